#!/usr/bin/env bash
# Runs every check and test; uses the local PostgreSQL when it answers
# (and insists on it under CI, where its tests must run, not skip).
set -euo pipefail
BIN=.venv/bin
# Debian packages only the tests use: nginx in front of two servers (tests/realtime).
bash scripts/debian-packages.sh nginx

# probe NAME VARIABLE URL PYTHON-CHECK: exports VARIABLE=URL when the service answers.
probe() {
  local name=$1 variable=$2 url=$3 check=$4
  if "$BIN/python" -c "import sys; $check" "$url" 2>/dev/null; then
    export "$variable=$url"
    echo "$name answers at $url: its tests run"
  elif [ "${CI:-}" = "true" ]; then
    echo "CI: $name at $url does not answer" >&2
    exit 1
  else
    echo "$name does not answer at $url: its tests are skipped"
  fi
}
probe PostgreSQL LUOT_TEST_POSTGRES_URL \
  "${LUOT_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}" \
  "import psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()"

"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/mypy"
"$BIN/pytest" -q "$@"
