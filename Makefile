# `make demo` runs the bot's main job on a generated metric; `make test` runs the whole suite.
# Both create the virtual environment they need; `make test` also installs redis-server,
# prometheus and prometheus-alertmanager from Debian's packages when they are missing
# (needs root, as CI has).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test services lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bot demo

services:
	@if ! command -v redis-server >/dev/null || ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
		|| ! command -v prometheus-alertmanager >/dev/null || ! command -v openssl >/dev/null; then \
		echo "installing redis-server, prometheus and prometheus-alertmanager from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			redis-server prometheus prometheus-alertmanager openssl >/dev/null; \
	fi

test: $(STAMP) services
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bot detectors tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
