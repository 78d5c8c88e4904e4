#!/usr/bin/env bash
# Java package tests: JUnit 5 through Maven, offline, against a real qmq-server.
#   1. installs a JDK, Maven and Debian's packaged Maven plugins + JUnit 5 if missing;
#   2. builds the JNI bridge (bindings/java, debug) and copies libqmq_java.so into the jar's
#      resource path native/<os>-<arch>/ (so the tests load it from the jar, as users do);
#   3. starts `qmq-server standalone` (stopped by a trap, also on failure) and runs
#      `mvn -o verify` with the JVM's JNI checker on (-Xcheck:jni; any warning fails);
#      QMQ_META_URL reaches surefire as the system property qmq.meta.url;
#   4. the leak test (1 000 000 messages, JUnit tag "leak") runs with the bridge and the server
#      built in release, in its own Maven run (-Pleak) against a fresh server.
# Env: CARGO_TARGET_DIR; QMQ_SKIP_LEAK=1 skips step 4; BENCH=1 also runs java/bench/run-bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK=$(mktemp -d)
# shellcheck source=ci/lib/server.sh
source ci/lib/server.sh
# shellcheck source=ci/lib/databases.sh
source ci/lib/databases.sh
cleanup() {
  stop_qmq_server
  stop_databases
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n=== java: %s (%ss)\n' "$1" "$SECONDS"; }

MAVEN_PACKAGES="junit5 libmaven-compiler-plugin-java libsurefire-java libmaven-jar-plugin-java
  libmaven-resources-plugin-java libmaven-install-plugin-java
  libpostgresql-jdbc-java libmariadb-java libxerial-sqlite-jdbc-java"
missing=""
command -v javac >/dev/null || missing="openjdk-17-jdk-headless"
command -v mvn >/dev/null || missing="$missing maven"
for p in $MAVEN_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  step "apt-get install$missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
java -version 2>&1 | head -1

PLATFORM="linux-$(uname -m | sed 's/amd64/x86_64/;s/arm64/aarch64/')"
RESOURCE_DIR="java/src/main/resources/native/$PLATFORM"
MVN=(mvn -B -o -q -s "$ROOT/ci/maven-settings.xml")

install_lib() {
  mkdir -p "$RESOURCE_DIR"
  cp "$CARGO_TARGET_DIR/$1/libqmq_java.so" "$RESOURCE_DIR/libqmq_java.so"
}

step "bridge (debug, test exports)"
cargo build -p qmq-java --features testing --locked
install_lib debug

step "qmq-server (debug)"
cargo build -p qmq-server --locked
export QMQ_BROKER_RETRY_DELAY_MS=500
start_qmq_server "$CARGO_TARGET_DIR/debug/qmq-server" "$WORK/debug" java

step "postgresql (transactional tests)"
# start_postgres waits for the port only; PostgreSQL may still refuse connections ("starting
# up") when it creates the database, and a start can fail outright on a busy machine. Tolerate
# both: create the database once the server is up, and start again (up to 3 times) otherwise.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_ready() {
  local _
  for _ in $(seq 1 100); do
    if "$PG_BIN/psql" -h 127.0.0.1 -p "$QMQ_TEST_POSTGRES_PORT" -U postgres -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = 'qmq'" 2>/dev/null | grep -q 1; then
      return 0
    fi
    "$PG_BIN/psql" -h 127.0.0.1 -p "$QMQ_TEST_POSTGRES_PORT" -U postgres -d postgres -qc \
      "CREATE DATABASE qmq" >/dev/null 2>&1 || sleep 0.2
  done
  return 1
}
for attempt in 1 2 3; do
  start_postgres "$WORK/pg" || true
  if [ -n "${QMQ_TEST_POSTGRES_PORT:-}" ] && pg_ready; then
    break
  fi
  [ "$attempt" = 3 ] && { echo "java: PostgreSQL did not start" >&2; exit 1; }
  stop_databases
  unset QMQ_TEST_POSTGRES_PORT QMQ_TEST_POSTGRES_URL
done

step "mariadb (transactional tests)"
start_mariadb "$WORK/mariadb"

step "mvn verify (-Xcheck:jni)"
rm -rf java/target/surefire-reports
(cd java && "${MVN[@]}" -DargLine=-Xcheck:jni verify 2>&1 | tee "$WORK/mvn.log"; exit "${PIPESTATUS[0]}") || {
  cat java/target/surefire-reports/*.txt 2>/dev/null | grep -v '^Tests run: .*Failures: 0, Errors: 0' || true
  exit 1
}
grep -h "Tests run" java/target/surefire-reports/*.txt
# The JVM's JNI checker only warns: any warning (a leaked local frame, a call with an exception
# pending, a wrong reference type) fails the run.
# The JVM writes them to the forked process's own stdout, which surefire logs to the console
# or to *.dumpstream.
if grep -h -B2 -A8 "WARNING in native method\|FATAL ERROR in native method" "$WORK/mvn.log" \
    java/target/surefire-reports/*-output.txt java/target/surefire-reports/*.dumpstream \
    2>/dev/null; then
  echo "java: -Xcheck:jni reported problems" >&2
  exit 1
fi
stop_qmq_server
stop_databases
# The server reads QMQ_<SECTION>_<KEY> variables as configuration: never pass it these.
unset QMQ_META_URL QMQ_TEST_POSTGRES_URL QMQ_TEST_POSTGRES_PORT

if [ "${QMQ_SKIP_LEAK:-0}" != 1 ] || [ "${BENCH:-0}" = 1 ]; then
  step "bridge and qmq-server (release)"
  if [ "${BENCH:-0}" != 1 ]; then
    # The leak test needs optimised code, not the last per cent of speed: opt-level 1 without
    # debug info builds much faster on a 2-core CI machine. The bench keeps the full profile.
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0
  fi
  cargo build --release -p qmq-java -p qmq-server --locked
  install_lib release
fi

if [ "${QMQ_SKIP_LEAK:-0}" != 1 ]; then
  step "leak test (release, 1 000 000 messages)"
  start_qmq_server "$CARGO_TARGET_DIR/release/qmq-server" "$WORK/leak" java-leak
  rm -rf java/target/surefire-reports java/target/leak-report.txt
  # Two malloc arenas instead of glibc's 8 per core: the core's blocking threads come and go,
  # and fragmentation spread over many arenas otherwise reads as slow RSS growth. A real
  # per-message leak still shows (it grows linearly, arenas or not).
  (cd java && MALLOC_ARENA_MAX=2 "${MVN[@]}" -Pleak verify) || {
    cat java/target/surefire-reports/*.txt 2>/dev/null || true
    exit 1
  }
  grep -h "Tests run" java/target/surefire-reports/*.txt
  cat java/target/leak-report.txt 2>/dev/null || true
  stop_qmq_server
  unset QMQ_META_URL
fi

if [ "${BENCH:-0}" = 1 ]; then
  step "bench"
  bash java/bench/run-bench.sh
fi
step "done"
