#!/usr/bin/env bash
# Installs what Luot needs on Debian (only what is missing), then the venv and the package.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
# Debian packages the server needs (the tests' own come in scripts/test.sh).
PYTHON="$PYTHON" bash scripts/debian-packages.sh python3-venv ca-certificates

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]"
