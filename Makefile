# Attention by Experiment: the two commands are `make book` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
JB := $(BIN)/jupyter-book build . --all -W -n --keep-going
PIP := $(BIN)/pip install -q --disable-pip-version-check
export PYTHONWARNINGS ?= ignore::DeprecationWarning
# The kernel settings notebooks run with here: SVG figures sized for the book (book/ipython/).
export IPYTHONDIR := $(CURDIR)/book/ipython

.PHONY: book test unit notebooks book-smoke browser vendor lab reproduce bench gpu-check clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@# torch first: the CPU wheel where there is no GPU (an unpinned torch pulls a multi-GB CUDA build)
	$(BIN)/python -c "import torch" 2>/dev/null || \
	  if command -v nvidia-smi >/dev/null 2>&1; then $(PIP) torch 2>&1 | grep -v '^WARNING: Location' || true; \
	  else $(PIP) torch==2.13.0 2>&1 | grep -v '^WARNING: Location' || true; fi
	$(PIP) -r requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
	$(PIP) --no-deps --no-build-isolation -e . 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -c "import torch, minilib, nbval, jupyter_book, ipywidgets, bertviz"
	touch $(STAMP)

# The HTML book, notebooks executed at `cpu` scale unless MINILIB_SCALE says otherwise.
book: $(STAMP)
	MINILIB_SCALE=$${MINILIB_SCALE:-cpu} $(MAKE) --no-print-directory _build_book

_build_book: vendor
	rm -rf _build/html _build/.doctrees _build/html/reports
	$(JB)
	@if ls _build/html/reports/*.log >/dev/null 2>&1; then \
	  echo "A notebook failed while building the book:"; cat _build/html/reports/*.log; exit 1; fi
	@echo "Book built: _build/html/index.html"

# Everything a maintainer runs: unit tests, every notebook under nbval at smoke scale, the book, the browser check.
test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory unit notebooks book-smoke browser && \
	echo "make test: all stages passed in $$(( $$(date +%s) - start )) s"

# Test-only packages (requirements-test.txt: Triton, ~1 GB, whose interpreter runs the GPU kernel's tests on
# the CPU). Not needed by `make book`. A torch that brings its own Triton (CUDA builds) keeps it; where no
# wheel exists (e.g. macOS) the kernel tests skip and say why.
$(TEST_STAMP): $(STAMP) requirements-test.txt
	$(BIN)/python -c "import triton" 2>/dev/null || $(PIP) -r requirements-test.txt 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -c "import triton" 2>/dev/null || echo "Triton could not be installed: the fused-kernel tests will be skipped"
	touch $(TEST_STAMP)

unit: $(TEST_STAMP)
	MINILIB_SCALE=smoke $(BIN)/pytest -q tests --ignore=tests/test_book_browser.py

notebooks: $(STAMP)
	MINILIB_SCALE=smoke $(BIN)/pytest -q --nbval-lax --nbval-cell-timeout=600 $$(git ls-files 'chapters/*.ipynb' 'labs/*.ipynb')

book-smoke: $(STAMP)
	MINILIB_SCALE=smoke $(MAKE) --no-print-directory _build_book

browser: $(STAMP)
	@if [ -f tests/test_book_browser.py ]; then \
	  command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); \
	  MINILIB_SCALE=smoke $(BIN)/pytest -q tests/test_book_browser.py; fi

# Stored reference runs (minilib/reference_runs/*.json, shipped with the package): cpu scale, three seeds; paper scale, seed 0 (slow on a CPU).
reproduce: $(STAMP)
	$(BIN)/python -m minilib.experiments lm --scale cpu --seeds 0 1 2
	$(BIN)/python -m minilib.experiments lm --scale paper --seeds 0
	$(BIN)/python -m minilib.experiments masking_strategies --scale cpu --seeds 0 1 2
	$(BIN)/python -m minilib.experiments stability --scale cpu --seeds 0 1 2
	$(BIN)/python -m minilib.seglab --scale cpu --seeds 0 1 2 3 4    # lab 5: 3 models x 5 seeds, ~35 min
	$(BIN)/python -m minilib.experiments roberta --scale cpu --seeds 0 1 2    # lab 6 and chapter 6: ~15 min

# Speed of every attention variant (time and memory), ~10 min on a 2-core CPU; writes
# benchmarks/results/bench_<cpu|cuda>.json, which book/speed.ipynb reads. Run it on a quiet machine.
# Then the NumPy BERT's embedding gradient, np.add.at against loops (~1 min; bench_numpy_bert.json, chapter 5).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_attention.py
	$(BIN)/python benchmarks/bench_numpy_bert.py

# On a GPU machine (<= 8 min on one H100/H200): the fused additive kernel's tests compiled for the GPU, its
# speed against the chunked path and SDPA, as a fraction of the special-function-unit roofline, and the
# paper-scale experiment 1 end to end; writes benchmarks/results/bench_cuda.json. Runs with the machine's
# own python3 (its torch and Triton), not the venv; stops at once without CUDA. GPU_CHECK_ARGS="--dry-run"
# runs every code path tiny on the CPU; "--out PATH" writes elsewhere.
gpu-check:
	PYTHONPATH=$(CURDIR) PYTHONUNBUFFERED=1 $(or $(GPU_PYTHON),python3) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

# Offline reading: MathJax, require.js, the ipywidgets HTML manager, d3 and jQuery, fetched once from the
# npm registry (pinned, integrity-checked, cached in book/vendor/cache) and served from _static/vendor/.
vendor:
	@$(PY) book/tools/vendor_assets.py

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

clean:
	rm -rf _build
