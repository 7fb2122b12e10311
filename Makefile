# `make book` builds the book on the embedded offline default; `make test` runs the tests (CI runs the same).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/polycode build --profile default

smoke: $(STAMP)
	$(BIN)/polycode build --profile smoke

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf _build book/_generated book/_static/mathjax
