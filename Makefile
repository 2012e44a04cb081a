# Two targets for people: `make run` and `make test`. Everything else here is
# setup they share, written so that a second run does (almost) nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
PYTHON := $(VENV)/bin/python
# Touched after a successful install; pip runs again only when pyproject.toml
# is newer than this file.
INSTALLED := $(VENV)/.installed

.PHONY: run test fonts

# Debian's fonts that the Deckungsnote embeds (text, CJK, emoji and symbols).
FONT_FILES := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
	/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf \
	/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf

# Ports of `make run`, e.g. `make run PORT=8001 TEMPORAL_PORT=7234`; every one
# is checked before anything starts.
PORT ?= 8000
TEMPORAL_PORT ?= 7233
TEMPORAL_UI_PORT ?= 8233
SMTP_PORT ?= 8025
INBOUND_PORT ?= 2525

## run: install if needed, then start the whole product on embedded defaults.
run: $(INSTALLED) fonts
	$(VENV)/bin/tenderdesk run --port $(PORT) --temporal-port $(TEMPORAL_PORT) \
		--temporal-ui-port $(TEMPORAL_UI_PORT) --smtp-port $(SMTP_PORT) \
		--inbound-port $(INBOUND_PORT)

## test: install if needed, make sure Chromium and PostgreSQL are there, lint, test.
test: $(INSTALLED) fonts
	@# Browser for the end-to-end tests (Debian package; we run as root).
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	@# PostgreSQL on 127.0.0.1:5432 for the tests that use it.
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
		pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql | sort -V | tail -n 1)" main start
	@pg_isready -q -h 127.0.0.1 -p 5432 -t 30 || { echo "PostgreSQL is not up on 127.0.0.1:5432" >&2; exit 1; }
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy tenderdesk workflows activities web worker.py
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest -q

## fonts: install the Deckungsnote's fonts from Debian's packages if one is missing.
fonts:
	@ls $(FONT_FILES) >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y fonts-dejavu-core fonts-droid-fallback fonts-symbola; }

$(PYTHON):
	python3 -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e '.[test]'
	touch $@
