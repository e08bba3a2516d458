#!/usr/bin/env bash
# Create .venv on first use and (re)install dependencies when requirements change.
# Usage: source scripts/bootstrap.sh [dev]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${OPML_VENV:-.venv}"
files=(requirements.txt pyproject.toml scripts/bootstrap.sh)
[ "${1:-}" = "dev" ] && files+=(requirements-dev.txt)
stamp="$VENV/.installed-${1:-run}"
want="$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)"

if [ ! -x "$VENV/bin/python" ]; then
  python=""
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python="$candidate"
      break
    fi
  done
  [ -n "$python" ] || { echo "opml needs Python 3.11 or newer" >&2; exit 1; }
  echo "creating $VENV with $python" >&2
  "$python" -m venv "$VENV"
fi

if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing dependencies into $VENV (first run takes a few minutes)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv 2>&1 | grep -v "^WARNING: Location" >&2 || true
  requirements=(-r requirements.txt)
  [ "${1:-}" = "dev" ] && requirements+=(-r requirements-dev.txt)
  # Compiled up front: with PYTHONDONTWRITEBYTECODE set (as on some machines), every process would
  # otherwise compile pandas, scikit-learn and friends again at each start (~5 s per run process).
  "$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$VENV/bin/python" "${requirements[@]}" -e .
  echo "$want" > "$stamp"
fi
