# `make demo` and `make test` on a fresh machine: bootstrap .venv once (stamp files), then delegate to nox.
# Plain `python3 -m venv` + pip, so the machine's local CPU wheel of torch is used.

VENV        ?= .venv
BOOT_PYTHON ?= python3
PYTHON      := $(VENV)/bin/python
PIP         := $(PYTHON) -m pip

# torch goes in first and exactly at this version: it is on local disk as a CPU wheel, and any
# other spec (or letting sentence-transformers pick one) downloads a multi-GB CUDA build.
TORCH       := torch==2.13.0
DEMO_DISTS  := dgs_core plugins/dgs_faiss plugins/dgs_sentence_transformers
ALL_PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/dgs_*/pyproject.toml))
TEST_TOOLS  := ruff import-linter build hatchling

DEMO_STAMP  := $(VENV)/.dgs-demo-installed
TEST_STAMP  := $(VENV)/.dgs-test-installed

export OMP_NUM_THREADS := 1
export HF_HUB_OFFLINE  := 1

.PHONY: demo test bootstrap clean

demo: $(DEMO_STAMP)
	$(PYTHON) -m nox -s demo

test: $(TEST_STAMP)
	$(PYTHON) -m nox -s lint docs tests isolated

bootstrap: $(TEST_STAMP)

# Re-run pip only when a distribution's metadata or the demo requirements change.
$(DEMO_STAMP): $(addsuffix /pyproject.toml,$(DEMO_DISTS)) example/requirements.txt
	test -x $(PYTHON) || $(BOOT_PYTHON) -m venv $(VENV)
	@echo "Installing $(TORCH) (CPU), then dgs and the demo requirements into $(VENV); the first time takes minutes."
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet $(addprefix -e ,$(DEMO_DISTS)) -r example/requirements.txt nox
	touch $@

# Tests also need every other plugin (each runs its own tests), each package's `test` extra, what the
# cross-package tests use, and the lint and build tools.
$(TEST_STAMP): $(DEMO_STAMP) $(addsuffix /pyproject.toml,$(ALL_PLUGINS)) tests/requirements.txt
	$(PIP) install --quiet $(foreach dist,dgs_core $(ALL_PLUGINS),-e "$(dist)[test]") -r tests/requirements.txt \
		$(TEST_TOOLS)
	touch $@

clean:
	rm -rf .nox example/var
