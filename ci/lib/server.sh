# Shared by the language test scripts: start `qmq-server standalone` on ephemeral ports and stop
# it again. Source this file, then:
#   start_qmq_server BIN DIR LABEL   # sets SERVER_PID and exports QMQ_META_URL
#   stop_qmq_server                  # safe to call twice (use it in the EXIT trap)

SERVER_PID=""

start_qmq_server() {
  local bin=$1 dir=$2 label=$3 port=""
  mkdir -p "$dir"
  "$bin" standalone --data-dir "$dir/server" --host 127.0.0.1 \
    --meta-http-port 0 --meta-tcp-port 0 --broker-port 0 --delay-port 0 \
    >"$dir/server.out" 2>"$dir/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    port=$(sed -n 's/^QMQ_SERVER_READY .*"meta_http":\([0-9][0-9]*\).*/\1/p' "$dir/server.out" | head -1)
    [ -n "$port" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$label: qmq-server exited" >&2; cat "$dir/server.err" >&2; return 1
    fi
    sleep 0.1
  done
  if [ -z "$port" ]; then echo "$label: no QMQ_SERVER_READY line" >&2; return 1; fi
  export QMQ_META_URL="http://127.0.0.1:$port/meta/address"
  echo "$label: server ready at $QMQ_META_URL"
}

stop_qmq_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
