# Every target creates .venv on first use (and refreshes it when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint chromium sandbox run bench wheel clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite mostly waits (loopback HTTP, subprocesses, a browser, the wheel build), so it runs in
# TEST_WORKERS processes even on two cores (`make test TEST_WORKERS=0`: one process). Every test has its
# own tmp_path, ephemeral ports and, on PostgreSQL, its own throw-away database, so any test can run
# on any worker; `--dist loadfile` keeps each file on one worker, so a module's session fixtures (the
# ~1 min wheel build in tests/packaging/test_wheel.py) are made once.
TEST_WORKERS ?= 4

test: lint chromium
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# The browser tests drive a system Chromium with Playwright (never Playwright's own browser download):
# installed with apt-get where possible; elsewhere they are skipped, loudly (never in CI).
chromium:
	@sh tests/browser/ensure-chromium.sh

# `make sandbox ARGS=--socket`: the bot in Socket Mode (see `python -m sandbox --help`).
sandbox: $(STAMP)
	$(BIN)/python -m sandbox $(ARGS)

run: $(STAMP)
	$(BIN)/incident-bot serve

# The benches' own extra (the peer's gunicorn, bench/peers/), installed on top of the test venv.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

# The benchmarks themselves (bench/ also holds their servers and shared code: floor.py, standins.py,
# load.py, peers/, which are not run alone).
BENCHES := ack_latency fanout faults queue_cost servicenow_client sql_cost storage_growth subscriptions sync_cost throughput

bench: $(BENCH_STAMP)
	@for name in $(BENCHES); do echo "== bench/$$name.py"; $(BIN)/python bench/$$name.py || exit 1; done

# dist/incident_bot-<version>-py3-none-any.whl, for `pipx install` (build/ is cleared first: setuptools
# would otherwise package modules since deleted from the tree).
wheel: $(STAMP)
	rm -rf build
	$(BIN)/python -m pip wheel --no-deps --quiet --wheel-dir dist .

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist
