#!/usr/bin/env bash
# Run every check of opml: lint, then the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh" dev
source scripts/chromium.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-cache
# Two workers, one test file each at a time (a file's module fixtures, agents and the browser journey stay in
# one process): the suite waits on real processes more than it computes, so it halves (17.5 -> 10 minutes).
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
