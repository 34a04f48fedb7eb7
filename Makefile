# regapp: `make run` serves the demo forum, `make test` runs every test. Both create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := regapp

.PHONY: run test lint format clean bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: export REGAPP_MAIL_BACKEND ?= files
run: export REGAPP_BASE_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty
	@echo ""
	@echo "  regapp is serving at http://$(HOST):$(PORT)/  (demo forum: http://$(HOST):$(PORT)/e/global-web-forum/)"
	@echo "  emails are written to instance/outbox/ as .eml files"
	@echo "  staff sign in at http://$(HOST):$(PORT)/staff/login"
	@cat instance/demo-staff.txt 2>/dev/null || true
	@echo ""
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/pytest

# The report benchmark's PostgreSQL database (created when missing; 100,000 generated
# participants are kept there and reused). BENCH_ARGS=--participants=10000 for a quick run.
BENCH_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/bench
BENCH_ARGS ?=

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_tickets.py
	$(BIN)/python bench/bench_reports.py --database-url $(BENCH_DATABASE_URL) $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
