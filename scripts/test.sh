#!/usr/bin/env bash
# Runs every check and test; uses the local PostgreSQL and Redis when they answer
# (and insists on them under CI, where they must run, not skip).
set -euo pipefail
BIN=.venv/bin
PG_URL="${LUOT_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
REDIS_URL="${LUOT_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"

if "$BIN/python" -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" \
    "$PG_URL" 2>/dev/null; then
  export LUOT_TEST_POSTGRES_URL="$PG_URL"
  echo "PostgreSQL answers: tests run on it too ($PG_URL)"
elif [ "${CI:-}" = "true" ]; then
  echo "CI: PostgreSQL at $PG_URL does not answer" >&2; exit 1
else
  echo "PostgreSQL does not answer: its tests are skipped"
fi
if "$BIN/python" -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_timeout=3).ping()" \
    "$REDIS_URL" 2>/dev/null; then
  export LUOT_TEST_REDIS_URL="$REDIS_URL"
  echo "Redis answers: multi-process Socket.IO tests run ($REDIS_URL)"
elif [ "${CI:-}" = "true" ]; then
  echo "CI: Redis at $REDIS_URL does not answer" >&2; exit 1
else
  echo "Redis does not answer: its tests are skipped"
fi

"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/mypy"
"$BIN/pytest" -q "$@"
