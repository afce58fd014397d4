# ilrflow: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")

# The test stack listens on its own ports, so `make test` never touches a running `make run`.
TEST_ENV := ILRFLOW_STACK_DIR=$(CURDIR)/.stack/test ILRFLOW_KAFKA_PORT=19092 \
            ILRFLOW_KAFKA_CONTROLLER_PORT=19093 ILRFLOW_MONGO_PORT=27018 \
            ILRFLOW_KAFKA_BOOTSTRAP=127.0.0.1:19092 ILRFLOW_MONGO_URL=mongodb://127.0.0.1:27018/

.PHONY: help install run lane test test-unit lint format stack-up stack-down clean docs faults bench

help:
	@echo "make run    install what is missing, start Kafka, FerretDB and the five services, seed a demo tenant"
	@echo "make lane LANE=acme   a dedicated lane's five processes beside make run (8101-8105)"
	@echo "make test   the whole suite (lint, unit, end-to-end) against its own fresh stack"
	@echo "make test-unit  the tests that need no stack (domain, use cases through fakes, contracts)"
	@echo "make lint   ruff + mypy        make docs   regenerate docs/asyncapi.yaml and docs/openapi/"
	@echo "make faults the long fault run  make bench  the pipeline benchmark (docs/benchmark.md)"
	@echo "./ilrflow  the operator CLI (./ilrflow --help; finds uv in ~/.local/bin)"
	@echo "ILRFLOW_FERRETDB_BACKEND=sqlite|postgresql make run|test|bench|faults  FerretDB's storage (docs/operations.md)"

install:
	@deploy/local/bootstrap.sh

run: install
	@$(UV) run --locked python deploy/local/run.py

# `make lane LANE=acme`: a dedicated lane's five processes beside a running `make run`.
lane: install
	@test -n "$(LANE)" || { echo "usage: make lane LANE=<name>" >&2; exit 2; }
	@$(UV) run --locked python deploy/local/lane.py $(LANE)

test: install
	@$(MAKE) --no-print-directory lint
	@set -euo pipefail; \
	  trap '$(TEST_ENV) deploy/local/stack.sh down' EXIT; \
	  $(TEST_ENV) ILRFLOW_STACK_FRESH=1 deploy/local/stack.sh up; \
	  $(TEST_ENV) $(UV) run --locked pytest $(PYTEST_ARGS)

# No `install`: these tests need no Kafka, FerretDB, Java or Go, only the Python environment
# (which `uv run --locked` syncs).
test-unit:
	@$(UV) run --locked pytest -m "not e2e" $(PYTEST_ARGS)

# `make faults` and `make bench` run on a Kafka and FerretDB of their own (restarting a broker
# that others share would be rude), torn down afterwards.
FAULTS_ENV := ILRFLOW_STACK_DIR=$(CURDIR)/.stack/faults ILRFLOW_KAFKA_PORT=29092 \
              ILRFLOW_KAFKA_CONTROLLER_PORT=29093 ILRFLOW_MONGO_PORT=27029 \
              ILRFLOW_KAFKA_BOOTSTRAP=127.0.0.1:29092 ILRFLOW_MONGO_URL=mongodb://127.0.0.1:27029/
# Overridable so two benchmarks (e.g. two database back-ends) can run side by side.
BENCH_KAFKA_PORT ?= 29192
BENCH_KAFKA_CONTROLLER_PORT ?= 29193
BENCH_MONGO_PORT ?= 27129
BENCH_FERRETDB_PPROF_PORT ?= 27130
BENCH_STACK_DIR ?= $(CURDIR)/.stack/bench
BENCH_ENV := ILRFLOW_STACK_DIR=$(BENCH_STACK_DIR) ILRFLOW_KAFKA_PORT=$(BENCH_KAFKA_PORT) \
             ILRFLOW_KAFKA_CONTROLLER_PORT=$(BENCH_KAFKA_CONTROLLER_PORT) ILRFLOW_MONGO_PORT=$(BENCH_MONGO_PORT) \
             ILRFLOW_KAFKA_BOOTSTRAP=127.0.0.1:$(BENCH_KAFKA_PORT) \
             ILRFLOW_MONGO_URL=mongodb://127.0.0.1:$(BENCH_MONGO_PORT)/ \
             ILRFLOW_FERRETDB_PPROF_ADDR=127.0.0.1:$(BENCH_FERRETDB_PPROF_PORT)

faults: install
	@set -euo pipefail; \
	  trap '$(FAULTS_ENV) deploy/local/stack.sh down' EXIT; \
	  $(FAULTS_ENV) ILRFLOW_STACK_FRESH=1 deploy/local/stack.sh up; \
	  $(FAULTS_ENV) $(UV) run --locked python -m tests.faults.run \
	    --broker-stack-dir $(CURDIR)/.stack/faults $(FAULTS_ARGS)

bench: install
	@set -euo pipefail; \
	  trap '$(BENCH_ENV) deploy/local/stack.sh down' EXIT; \
	  $(BENCH_ENV) ILRFLOW_STACK_FRESH=1 deploy/local/stack.sh up; \
	  $(BENCH_ENV) $(UV) run --locked python -m bench.pipeline $(BENCH_ARGS)

lint:
	@$(UV) run --locked ruff check .
	@$(UV) run --locked ruff format --check .
	@$(UV) run --locked mypy

format:
	@$(UV) run ruff check --fix . && $(UV) run ruff format .

docs:
	@PYTHONPATH=deploy/local $(UV) run --locked python docs/generate.py

stack-up: install
	@deploy/local/stack.sh up

stack-down:
	@deploy/local/stack.sh down

clean: stack-down
	rm -rf .stack/run .stack/test
