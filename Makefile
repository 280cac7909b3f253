# The README's two commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The demo needs memo alone (L1 only, no server): a fresh machine installs just that.
DEMO_STAMP := $(VENV)/.demo-stamp

.PHONY: demo test lint typecheck docs bench soak redis clean

$(STAMP): pyproject.toml hatch_build.py memo/_runtime/_descriptor.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[redis,msgpack,typed,progress,test,docs,bench]'
	@touch $(STAMP)

$(DEMO_STAMP): pyproject.toml hatch_build.py memo/_runtime/_descriptor.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m memo demo

redis:
	@bash scripts/ensure-redis.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check memo tests bench scripts hatch_build.py
	$(VENV)/bin/ruff format --check memo tests bench scripts hatch_build.py
	$(VENV)/bin/lint-imports
	$(PY) scripts/unasync.py --check

typecheck: $(STAMP)
	$(VENV)/bin/mypy memo tests/typing

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

test: $(STAMP) redis lint typecheck docs
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m bench

soak: $(STAMP)
	$(PY) -m bench.soak --minutes 10
	$(PY) -m bench.soak --minutes 1 --tls
	$(PY) -m bench.soak --minutes 1 --cluster

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache .hypothesis
