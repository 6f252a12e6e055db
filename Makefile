# shopflow: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what they need: uv (with pip, when missing), then the locked workspace.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= python3
# uv from PATH when present, else the copy pip installs as a module.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN = $(UV) run --frozen --no-sync

.PHONY: help uv setup setup-compiled demo up test lint format typecheck schemas schemas-check cfn-lint statelint \
        compose-check import-lint checkov compose-e2e pytest pytest-fast sample bench bench-quick

help:
	@echo "make demo   - run the whole pipeline locally on the bundled sample and print the KPIs"
	@echo "make test   - lint, type-check, contract/infra checks and every test (what CI runs)"
	@echo "make up     - keep the local stack running in the foreground (Ctrl-C stops it)"
	@echo "make bench  - the full benchmark against the pandas baseline (about 12 minutes)"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check 'uv>=0.13,<0.14'

# Quiet: a newcomer's first `make demo` shows the pipeline, not the package manager's listing.
# No bytecode compilation at install here: Python compiles each module the first time it is
# imported and keeps it in __pycache__, so only what runs is compiled; compiling all ~8,600
# installed files up front made a first `make demo` wait 40 s.
setup: uv
	@echo "shopflow: installing the locked workspace (uv sync; a minute the first time) ..."
	@$(UV) sync --all-packages --frozen --quiet

# The tests start many interpreters, and CI may set PYTHONDONTWRITEBYTECODE: there, compiling
# every installed module once pays.
setup-compiled: uv
	@$(UV) sync --all-packages --frozen --quiet --compile-bytecode
	@# The terminal test (tests/e2e/test_cli_terminal_e2e.py) drives shopflow in tmux.
	@command -v tmux >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq tmux; } >/dev/null
	@# The dashboard's browser tests (tests/e2e/test_dashboard_browser_e2e.py) drive Debian's
	@# chromium through Playwright (the system browser: Playwright downloads none).
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium; } >/dev/null

demo: setup
	@$(RUN) shopflow demo

up: setup
	$(RUN) shopflow up

test: setup-compiled lint import-lint typecheck schemas-check cfn-lint statelint compose-check checkov pytest compose-e2e

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format:
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

# The import rules in pyproject.toml ([tool.importlinter]): services independent, domains free
# of AWS and wiring, contracts and runtime free of everything above them.
import-lint:
	$(RUN) lint-imports --no-cache

# Tests are type-checked too, so a fake that drifts from its port fails here. pytest imports a
# test directory's support modules (fakes, lakes) by their bare names: those directories are
# mypy's search path. Each conftest.py goes alone (they share one module name).
TEST_SUPPORT_PATH = $(shell find tests -name '*.py' ! -name 'test_*' ! -name conftest.py \
	! -path 'tests/fixtures/*' -printf '%h\n' | sort -u | paste -sd:)

typecheck:
	$(RUN) mypy contracts/src runtime/src services/loader/src services/validator/src services/kpi/src services/api/src cli/src bench/src
	MYPYPATH=$(TEST_SUPPORT_PATH) $(RUN) mypy \
		$$(find tests -name '*.py' ! -name conftest.py ! -path 'tests/fixtures/*' | sort)
	for conftest in $$(find tests -name conftest.py | sort); do \
		MYPYPATH=$(TEST_SUPPORT_PATH) $(RUN) mypy $$conftest || exit 1; done

schemas:
	$(RUN) shopflow-export-schemas

schemas-check:
	$(RUN) shopflow-export-schemas --check

cfn-lint:
	$(RUN) cfn-lint infra/template.yaml

statelint:
	$(RUN) statelint infra/statemachine.asl.json

compose-check:
	$(RUN) check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

# checkov in its own tool environment (its pins clash with the workspace's); the findings it
# may report, each with its reason, are in infra/checkov-baseline.yaml.
CHECKOV_VERSION = 3.3.30
checkov:
	@report=$$(mktemp); \
	$(UV) tool run --quiet --from 'checkov==$(CHECKOV_VERSION)' checkov --quiet --compact \
		--framework cloudformation dockerfile -f infra/template.yaml -f Dockerfile -o json \
		> "$$report" 2>/dev/null; \
	$(RUN) python .ci/checkov_gate.py infra/checkov-baseline.yaml "$$report"; status=$$?; \
	rm -f "$$report"; exit $$status

pytest:
	$(RUN) pytest -m "not compose"

# The compose route for real: engine and Compose installed when missing, every image built
# (base image from Debian packages where no registry answers), the sample through the
# containers, KPIs compared with the process stack's; see .ci/compose-e2e.
compose-e2e:
	.ci/compose-e2e

pytest-fast:
	$(RUN) pytest -m "not e2e and not slow and not compose"

sample:
	$(RUN) python -m shopflow_cli.sampledata --out samples/thelook-small

bench: setup
	$(RUN) shopflow bench

# Under a minute; CI runs it (tests/integration/test_bench_quick.py) so the benchmark never rots.
bench-quick: setup
	$(RUN) shopflow bench --quick
