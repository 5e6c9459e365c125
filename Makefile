# Two commands: `make dev` runs the whole thing on embedded defaults, `make test` runs the suite.
# Both bootstrap .venv from pyproject.toml (re-installing only when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test test-unit lint typecheck check worker demo bench bench-50k soak histories replay schemas catalogs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/python -m devtools.dev

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The unit layer alone (tests/unit/: no server, no process, no network), in seconds.
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

check: lint typecheck test

worker: $(STAMP)
	$(BIN)/python worker.py

demo: $(STAMP)
	$(BIN)/python starter.py demo

# Writes BENCHMARKS.md section by section (about an hour: bench.scale really starts 10,000 mentorships). The soak and
# the 50,000-mentorship check are targets of their own (bench-50k: about three hours on this 2-core machine).
BENCH_EXPERIMENTS = Mentorship:passthrough,Mentorship:no-places,Mentorship:no-feedback,Mentorship:no-webhooks,floor
bench: $(STAMP)
	$(BIN)/python -m bench.history_cost
	$(BIN)/python -m bench.sizing
	$(BIN)/python -m bench.email_throughput
	$(BIN)/python -m bench.replay_cost
	$(BIN)/python -m bench.lifecycle
	$(BIN)/python -m bench.lifecycle --scale-out
	$(BIN)/python -m bench.lifecycle --limits -n 250 --warmup 25
	$(BIN)/python -m bench.lifecycle -n 250 --warmup 25 --experiment $(BENCH_EXPERIMENTS)
	$(BIN)/python -m bench.lifecycle -n 400 --section experiments-email --experiment Mentorship,floor,Mentorship+before,floor+before
	$(BIN)/python -m bench.scale --concurrency 30 --window 300

bench-50k: $(STAMP)
	$(BIN)/python -m bench.scale -n 50000 --section scale-50k --concurrency 40 --window 400

# A 30-minute soak (about 36 with start-up and drain; not part of `make test` or `make bench`): a steady rate of new
# mentorships, the worker SIGKILLed every 4 minutes, the mail server down once. Fails if an email is lost, a
# mentorship is stuck, off its script or failed, or the worker's RSS grew more than 10 % (bench/README.md).
soak: $(STAMP)
	$(BIN)/python -m bench.soak

# Regenerate the published JSON Schemas (schemas/) after a change to the contract's models; a unit test checks them.
schemas: $(STAMP)
	$(BIN)/python -m devtools.schemas

# The email templates' messages (activities/templates/) into activities/locale/messages.pot, then every catalog
# updated from it (new messages empty, changed ones fuzzy: translate them, tests/unit/test_templates.py checks) and
# compiled to report what is left. The worker compiles the .po files itself when it starts: the .mo files written
# here are only a check, and git ignores them.
LOCALES := activities/locale
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F $(LOCALES)/babel.cfg -o $(LOCALES)/messages.pot --project=mentorship-workflows \
		--no-wrap --sort-by-file activities/templates
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap
	$(BIN)/pybabel compile -d $(LOCALES) --statistics

# Re-record tests/histories: only for a deliberate, documented incompatible workflow change (see README).
histories: $(STAMP)
	$(BIN)/python -m tests.record_histories

replay: $(STAMP)
	$(BIN)/python -m pytest -q tests/workflow/test_replay.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
