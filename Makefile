# xmppsec: the two set-up commands of the README, and the steps they are made of.
#   make demo   signs, verifies and rejects a tampered stanza on an embedded default
#   make test   installs everything it needs, then runs every gate and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian packages the test suite drives for real (interop with xmlsec1 and openssl; graphviz's
# dot renders docs/img/*.dot, and the tests check the committed SVGs against it).
APT_PACKAGES := xmlsec1 openssl graphviz

.PHONY: demo test system-deps venv check-codegen lint typecheck typecheck-types-lxml docs pytest bench bench-instructions fuzz clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Installs the Debian packages when running as root with apt-get; otherwise says what is missing.
# Prosody, ejabberd and redis-server come from tests/harness/install-servers.sh (kept from
# auto-starting: the tests run their own instances on loopback).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (install them, or run as root)"; fi; \
	fi
	@bash tests/harness/install-servers.sh

demo: venv
	$(VENV)/bin/xmppsec demo

check-codegen: venv
	$(PY) -m codegen --check

lint: venv
	$(VENV)/bin/ruff check runtime codegen tests

typecheck: venv
	$(VENV)/bin/mypy runtime generated codegen tests

# The repository type-checks under both lxml stub packages. lxml-stubs is in the dev set-up;
# types-lxml installs into the same `lxml-stubs` directory, so it gets a second venv: the dev
# set-up with lxml-stubs swapped for types-lxml. The typing tests (tests/test_typing.py) check
# a consumer project with it too.
TYPES_LXML_VENV ?= .tmp/venv-types-lxml
TYPES_LXML_VERSION ?= 2026.2.16

$(TYPES_LXML_VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(TYPES_LXML_VENV)
	$(TYPES_LXML_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TYPES_LXML_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	$(TYPES_LXML_VENV)/bin/python -m pip uninstall --quiet --yes lxml-stubs
	$(TYPES_LXML_VENV)/bin/python -m pip install --quiet 'types-lxml==$(TYPES_LXML_VERSION)'
	touch $@

typecheck-types-lxml: $(TYPES_LXML_VENV)/.installed
	$(TYPES_LXML_VENV)/bin/mypy --cache-dir .tmp/mypy-types-lxml runtime generated codegen tests

docs: venv
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir .tmp/site

pytest: venv
	$(VENV)/bin/pytest -p no:cacheprovider

test: system-deps venv check-codegen lint typecheck typecheck-types-lxml docs pytest

# Fuzzing for a time budget per target (docs/fuzzing.md); the suite runs a short pass itself.
FUZZ_SECONDS ?= 60
FUZZ_ENGINE ?= hypothesis
fuzz: venv
	$(PY) -m tests.fuzz.run --seconds $(FUZZ_SECONDS) --engine $(FUZZ_ENGINE)

# Benchmark side by side with the primitives, signxml and xmlsec (docs/performance.md).
bench: venv
	$(PY) -m tests.bench.run --out .tmp/bench

# Instructions per operation under valgrind's callgrind, compared with the recorded baseline
# (docs/performance.md): immune to the machine's load; about 5 minutes.
BENCH_BASELINE ?= tests/bench/instructions-baseline.json
bench-instructions: venv
	$(PY) -m tests.bench.instructions --out .tmp/bench --compare $(BENCH_BASELINE)

clean:
	rm -rf $(VENV) .tmp .mypy_cache .ruff_cache .pytest_cache dist build
