# make demo : the whole toolkit on sklearn's digits, offline (examples/digits), with a summary table.
# make test : create .venv if missing, install gentools with its test extra, run pytest (without the slow tests).
# make test-all : the same with every test (CI).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# --dist loadfile: one worker per test file, so module-scoped fixtures (the demo run, ~100 s) are built once
PYTEST_ARGS ?= -n 2 --dist loadfile
# make test leaves out the tests marked slow (the examples from scratch, the compiled-network builds: about 380 s
# of CPU); make test-all runs every test, and is what CI runs
SLOW   ?= -m "not slow"

DEMO_OUT ?= out

.PHONY: test test-all install bench clean demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import gentools, pytest, pytorch_fid, torch_fidelity, prdc, importlinter"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS) $(SLOW)

test-all:
	$(MAKE) --no-print-directory test SLOW=

demo: $(STAMP)
	@PATH="$(abspath $(BIN)):$$PATH" $(MAKE) --no-print-directory -s -C examples/digits OUT=$(DEMO_OUT) \
	    PYTHON="$(abspath $(BIN))/python" GENTOOLS="$(abspath $(BIN))/gentools" > /dev/null
	@cat examples/digits/$(DEMO_OUT)/results/summary.txt
	@echo "(re-run: make demo re-does only what changed; from scratch: make -C examples/digits clean)"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis examples/digits/out
