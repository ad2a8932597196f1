# Luot: `make run` and `make test` set everything up on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 0.0.0.0
PORT   ?= 5000
export LUOT_DATABASE_URL ?= sqlite:///$(CURDIR)/var/luot.db

.PHONY: run test lint bootstrap bench clean

$(BIN)/.installed: pyproject.toml scripts/bootstrap.sh scripts/debian-packages.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/bootstrap.sh
	touch $@

bootstrap: $(BIN)/.installed

run: bootstrap
	$(BIN)/luot init --demo
	$(BIN)/luot service update --all --hours "mon-sun 00:00-24:00" >/dev/null
	@echo "Demo services are open around the clock; realistic hours: luot service update --all --hours 'mon-sat 07:30-11:30, mon-sat 13:30-17:00'"
	$(BIN)/luot serve --host $(HOST) --port $(PORT)

test: bootstrap
	bash scripts/test.sh

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: bootstrap
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	$(BIN)/python bench/write_path.py
	$(BIN)/python bench/call_latency.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
