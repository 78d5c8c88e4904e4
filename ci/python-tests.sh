#!/usr/bin/env bash
# Python package tests, run from the installed wheel (never from the source tree):
#   1. a build venv with maturin builds the abi3 wheel (debug profile);
#   2. a FRESH venv gets only that wheel and pytest;
#   3. qmq-server is built, throwaway PostgreSQL, MariaDB and Redis servers are started
#      (ci/lib/databases.sh), and pytest runs from a temp dir against them (QMQ_SERVER_BIN,
#      QMQ_TEST_POSTGRES_URL, QMQ_TEST_MYSQL_URL, QMQ_TEST_REDIS_URL;
#      QMQ_TEST_REQUIRE_DATABASES=1 makes a missing one a failure).
# Lints the Python sources with ruff as well. Env: PYTHON (default python3), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PYTHON="${PYTHON:-python3}"
WORK=$(mktemp -d)
source ci/lib/databases.sh
trap 'stop_databases; rm -rf "$WORK"' EXIT

step() { printf '\n=== python: %s (%ss)\n' "$1" "$SECONDS"; }

if ! "$PYTHON" -m venv --help >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi

step "build venv"
"$PYTHON" -m venv "$WORK/build"
"$WORK/build/bin/pip" install -q --disable-pip-version-check maturin pytest ruff

step "ruff"
(cd python && "$WORK/build/bin/ruff" check --no-cache .)

step "wheel"
(cd python && "$WORK/build/bin/maturin" build --interpreter "$WORK/build/bin/python" --out "$WORK/dist")
ls "$WORK"/dist/*.whl

step "fresh venv"
"$PYTHON" -m venv "$WORK/test"
# psycopg (3.x) is the PostgreSQL driver the transactional tests use as "the user's connection".
"$WORK/test/bin/pip" install -q --disable-pip-version-check "$WORK"/dist/*.whl pytest "psycopg[binary]"

step "qmq-server"
cargo build -p qmq-server --locked
export QMQ_SERVER_BIN="$CARGO_TARGET_DIR/debug/qmq-server"

step "databases"
start_postgres "$WORK/pg"
start_mariadb "$WORK/mariadb"
start_redis "$WORK/redis"
export QMQ_TEST_REQUIRE_DATABASES=1

step "pytest"
mkdir -p "$WORK/run"
cp -r python/tests "$WORK/run/tests"
cd "$WORK/run"
# Guard: the package must come from the installed wheel.
"$WORK/test/bin/python" -c "import qmq, sys; assert '$ROOT' not in qmq.__file__, qmq.__file__; print('qmq from', qmq.__file__)"
"$WORK/test/bin/python" -m pytest -p no:cacheprovider -q tests
