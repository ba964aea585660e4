# All set-up happens here, from nothing, idempotently, into .venv in the repo root.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=
# Test processes: one per core (`make test PYTEST_WORKERS=0` runs in this process, for pdb).
PYTEST_WORKERS ?= auto

export HF_HUB_OFFLINE ?= 1
export HF_EVALUATE_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1
export GRADIO_ANALYTICS_ENABLED ?= False

.PHONY: setup test demo lint format browser clean sync-embedded

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first and exactly: any other request may pull a multi-GB CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --disable-pip-version-check -q torch==2.13.0
	$(PY) -m pip install --disable-pip-version-check -q -e ".[train,demo,media,dev]"
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

demo: setup
	$(PY) -m affectgpt demo

# Re-copy the Hub code into the embedded default model and rewrite its tokenizer / processor / config /
# generation files from the code (weights and model card untouched). Run after any edit to processing/ or
# modeling_affectgpt/: describe, bench, demo and the Space run the folder's own copy.
sync-embedded: setup
	$(PY) -m affectgpt.sync_embedded

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Debian's Chromium + driver for the Space's browser test (test tools cannot download their own browsers).
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
