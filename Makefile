# regapp: `make run` serves the demo forum, `make test` runs every test. Both create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := regapp

.PHONY: run serve test lint format clean bench

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

# Production: gunicorn (regapp/gunicorn_conf.py; REGAPP_WORKERS, REGAPP_THREADS, HOST, PORT) on
# REGAPP_DATABASE_URL (the SQLite file by default), after bringing its schema up to date.
serve: $(VENV)/.installed
	$(BIN)/flask db upgrade
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn --config regapp/gunicorn_conf.py

test: $(VENV)/.installed
	$(BIN)/pytest

# The report benchmark's PostgreSQL database (created when missing; 100,000 generated
# participants are kept there and reused). BENCH_ARGS=--participants=10000 for a quick run.
BENCH_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/bench
BENCH_ARGS ?=

# The load benchmark (gunicorn, registrations and check-ins, about 4 minutes) drops and remakes
# the schema of its own PostgreSQL database, and counts rate limits in Redis as production does.
# BENCH_LOAD_ARGS=--quick for a one-minute run.
BENCH_LOAD_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/bench_load
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/0
BENCH_LOAD_ARGS ?=

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_tickets.py
	$(BIN)/python bench/bench_load.py --database-url $(BENCH_LOAD_DATABASE_URL) \
		--redis-url $(BENCH_REDIS_URL) $(BENCH_LOAD_ARGS)
	$(BIN)/python bench/bench_reports.py --database-url $(BENCH_DATABASE_URL) $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
