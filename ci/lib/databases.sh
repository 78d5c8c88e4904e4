# Shared by the language test scripts: throwaway PostgreSQL, MariaDB and Redis servers on
# 127.0.0.1 with ephemeral ports (the same setup as the Rust crate qmq-testkit). Source this
# file, then:
#   start_postgres DIR   # exports QMQ_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:P/qmq
#   start_mariadb DIR    # exports QMQ_TEST_MYSQL_URL=mysql://root@127.0.0.1:P/qmq
#   start_redis DIR      # exports QMQ_TEST_REDIS_URL=redis://127.0.0.1:P/
#   stop_databases       # stops every server started here; safe to call twice (EXIT trap)
# Each also exports its port (QMQ_TEST_POSTGRES_PORT, ...). Needs ci/install-deps.sh first.

DATABASE_PIDS=()
DATABASE_DIRS=()

_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_wait_port() { # label port pid log
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then echo "$1 exited; log:" >&2; tail -20 "$4" >&2; return 1; fi
    sleep 0.1
  done
  echo "$1 did not listen on port $2; log:" >&2; tail -20 "$4" >&2; return 1
}

start_postgres() {
  local dir port bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  port=$(_free_port)
  # PostgreSQL refuses to run as root and its user must reach the data directory, which the
  # caller's (often 0700) temp dir would not allow: it gets its own directory, linked at $1.
  dir=$(mktemp -d /tmp/qmq-pg.XXXXXX)
  DATABASE_DIRS+=("$dir")
  mkdir -p "$(dirname "$1")" "$dir/data"
  ln -sfn "$dir" "$1"
  local as=()
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; as=(setpriv --reuid=postgres --regid=postgres --init-groups); fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1
  "${as[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c max_connections=200 >"$dir/server.log" 2>&1 &
  local pid=$!
  DATABASE_PIDS+=("INT:$pid")
  _wait_port PostgreSQL "$port" "$pid" "$dir/server.log"
  # The port opens before PostgreSQL accepts sessions ("the database system is starting up").
  local _
  for _ in $(seq 1 600); do
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE qmq"
  export QMQ_TEST_POSTGRES_PORT=$port
  export QMQ_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/qmq"
}

start_mariadb() {
  local dir=$1 port user
  user=$(id -un)
  port=$(_free_port)
  mkdir -p "$dir"
  mariadb-install-db --no-defaults --user="$user" --datadir="$dir/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  mariadbd --no-defaults --user="$user" --datadir="$dir/data" --bind-address=127.0.0.1 \
    --port="$port" --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=2 --max-connections=300 >"$dir/server.log" 2>&1 &
  local pid=$!
  DATABASE_PIDS+=("TERM:$pid")
  _wait_port MariaDB "$port" "$pid" "$dir/server.log"
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e \
    "CREATE DATABASE qmq; CREATE USER IF NOT EXISTS 'root'@'%'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION; FLUSH PRIVILEGES;"
  export QMQ_TEST_MYSQL_PORT=$port
  export QMQ_TEST_MYSQL_URL="mysql://root@127.0.0.1:$port/qmq"
}

start_redis() {
  local dir=$1 port
  port=$(_free_port)
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly yes \
    --daemonize no >"$dir/server.log" 2>&1 &
  local pid=$!
  DATABASE_PIDS+=("TERM:$pid")
  _wait_port Redis "$port" "$pid" "$dir/server.log"
  export QMQ_TEST_REDIS_PORT=$port
  export QMQ_TEST_REDIS_URL="redis://127.0.0.1:$port/"
}

stop_databases() {
  local entry
  for entry in "${DATABASE_PIDS[@]}"; do
    kill "-${entry%%:*}" "${entry#*:}" 2>/dev/null || true
  done
  for entry in "${DATABASE_PIDS[@]}"; do
    wait "${entry#*:}" 2>/dev/null || true
  done
  DATABASE_PIDS=()
  for entry in "${DATABASE_DIRS[@]}"; do rm -rf "$entry"; done
  DATABASE_DIRS=()
}
