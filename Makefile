# `make demo` and `make test` on a fresh machine: bootstrap .venv once (stamp files), then delegate to nox.
# `make dist` builds every distribution's wheel into dist/, which the README's Quickstart installs from.

VENV        ?= .venv
BOOT_PYTHON ?= python3
PYTHON      := $(VENV)/bin/python
PIP         := $(PYTHON) -m pip

# Where `make demo` serves: `make demo PORT=8123`, `make demo HOST=0.0.0.0` (set on the command line; the
# environment's HOST, which some shells set to the machine's name, is ignored).
HOST        := 127.0.0.1
PORT        := 8000

# torch goes in first, as the CPU build: letting sentence-transformers pick one downloads PyPI's multi-GB CUDA
# build on Linux. The CPU build is the local version `+cpu`, on PyTorch's own index; pip first tries without
# that index (a machine may have the wheel at hand, e.g. in pip's find-links), then with it. macOS wheels on
# PyPI are CPU builds without the suffix.
TORCH_VERSION   := 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
ifeq ($(shell uname -s),Darwin)
TORCH       := torch==$(TORCH_VERSION)
else
TORCH       := torch==$(TORCH_VERSION)+cpu
endif
DEMO_DISTS  := dgs_core plugins/dgs_faiss plugins/dgs_sentence_transformers
ALL_PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/dgs_*/pyproject.toml))
TEST_TOOLS  := ruff import-linter build hatchling

DEMO_STAMP  := $(VENV)/.dgs-demo-installed
TEST_STAMP  := $(VENV)/.dgs-test-installed

export OMP_NUM_THREADS := 1
export HF_HUB_OFFLINE  := 1

.PHONY: demo demo-port test bootstrap dist clean

demo: demo-port $(DEMO_STAMP)
	$(PYTHON) -m nox -s demo -- $(HOST) $(PORT)

# A busy port is reported before minutes of installing and indexing, with the machine's python3 alone.
demo-port:
	@$(BOOT_PYTHON) example/check_port.py $(HOST) $(PORT)

test: $(TEST_STAMP)
	$(PYTHON) -m nox -s lint docs tests isolated

bootstrap: $(TEST_STAMP)

# Re-run pip only when a distribution's metadata or the demo requirements change.
$(DEMO_STAMP): $(addsuffix /pyproject.toml,$(DEMO_DISTS)) example/requirements.txt
	test -x $(PYTHON) || $(BOOT_PYTHON) -m venv $(VENV)
	@echo "Installing $(TORCH) (CPU), then dgs and the demo requirements into $(VENV); the first time takes minutes."
	$(PIP) install --quiet "$(TORCH)" 2>/dev/null || $(PIP) install --quiet --extra-index-url $(TORCH_CPU_INDEX) "$(TORCH)"
	$(PIP) install --quiet $(addprefix -e ,$(DEMO_DISTS)) -r example/requirements.txt nox
	touch $@

# Tests also need every other plugin (each runs its own tests), each package's `test` extra, what the
# cross-package tests use, and the lint and build tools.
$(TEST_STAMP): $(DEMO_STAMP) $(addsuffix /pyproject.toml,$(ALL_PLUGINS)) tests/requirements.txt
	$(PIP) install --quiet $(foreach dist,dgs_core $(ALL_PLUGINS),-e "$(dist)[test]") -r tests/requirements.txt \
		$(TEST_TOOLS)
	touch $@

# Every distribution's wheel (dgs-core and each plugin), for `pip install --find-links dist "dgs-core[...]"`.
dist:
	$(BOOT_PYTHON) -m pip wheel --no-deps --quiet --wheel-dir dist ./dgs_core $(addprefix ./,$(ALL_PLUGINS))

clean:
	rm -rf .nox dist example/var
