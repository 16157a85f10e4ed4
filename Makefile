# Shipping Python applications in Docker: the course.
#   make lab    create the environment, prepare images, start JupyterLab on the notebooks (learners)
#   make test   run every test (exit 0 only when all pass; maintainers: installs an engine, QEMU, cosign, Chromium)
SHELL := /bin/bash
PYTHON ?= python3
LAB_ARGS ?=
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
# Behind a TLS-intercepting proxy uv must use the system trust store (harmless elsewhere).
export UV_SYSTEM_CERTS ?= 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: lab test env env-test classroom classroom-down engine images supply-chain browser doctor clean exercises strip nb unit help

help:  ## this list
	@sed -n '2,3p' Makefile
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 22

$(VENV)/.uv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: found " + sys.version.split()[0])'
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q "uv==$(UV_VERSION)"; }
	@touch $@

# The learner's environment: the course's packages only (--inexact: a maintainer's test packages stay installed).
$(VENV)/.synced: pyproject.toml uv.lock $(VENV)/.uv
	$(UV) sync --frozen --quiet --inexact
	@touch $@

# The maintainer's: also the test suite's packages (pytest, nbval, playwright) and the classroom's (JupyterHub).
$(VENV)/.synced-test: pyproject.toml uv.lock $(VENV)/.uv
	$(UV) sync --frozen --quiet --group test --group classroom
	@touch $@ $(VENV)/.synced

env: $(VENV)/.synced  ## the course's Python environment (.venv, from uv.lock)

env-test: $(VENV)/.synced-test  ## the course's environment plus the test suite's and the classroom's packages

engine:  ## a Docker engine: use the one that answers, or install one (Debian, root)
	@scripts/install-engine

images: env engine  ## pull the course images, or build stand-ins where no registry answers
	$(VENV)/bin/dockerlab prepare

supply-chain: env engine  ## lesson 14: QEMU and cosign (Debian, root); the engine image and arm64 Python stand-in where needed
	@scripts/install-supply-chain-tools
	$(VENV)/bin/dockerlab supply prepare

browser:  ## Debian's Chromium for the browser test (root on Debian; otherwise says how)
	@if [ -x scripts/install-browser ]; then scripts/install-browser; fi

doctor: env  ## is this machine ready? (engine, BuildKit, Compose, images)
	$(VENV)/bin/dockerlab doctor

lab: images  ## start JupyterLab on the notebooks (as root too); options: make lab LAB_ARGS="--no-browser --port=8890"
	JUPYTER=$(VENV)/bin/jupyter scripts/lab $(LAB_ARGS)

# LESSON=05: an author's loop, what proves one lesson (its notebook, solution, exercise, engine tests, unit and sync).
# Lesson 14 needs QEMU and cosign, the full run also Chromium (the browser test).
test: env-test engine images $(if $(LESSON),$(if $(filter 14,$(LESSON)),supply-chain),supply-chain browser)  ## every test (LESSON=05: one lesson's); a summary line per group
	$(PY) tests/run_suite.py $(if $(LESSON),--lesson $(LESSON))

unit: env-test  ## the unit tests alone (no engine)
	$(PY) -m pytest -q tests/unit

nb: env-test  ## one lesson's notebooks through nbval: make nb NB=01_images_and_containers
	$(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-kernel-startup-timeout 240 \
	  $(wildcard notebooks/$(NB).ipynb solutions/$(NB).ipynb)

exercises: env  ## regenerate exercises/ from solutions/
	$(VENV)/bin/dockerlab exercises

strip: env  ## remove outputs from every notebook
	$(PY) scripts/strip_outputs.py notebooks/*.ipynb solutions/*.ipynb exercises/*.ipynb

clean: env  ## remove what the course created for your namespace
	$(VENV)/bin/dockerlab clean

classroom: env-test engine  ## a workshop on this machine (root): JupyterHub, a seat with its own Docker engine per learner
	$(PY) classroom/classroom.py up

classroom-down: env-test  ## stop the classroom (learners' seats stay: classroom/classroom.py down --purge deletes them)
	$(PY) classroom/classroom.py down
