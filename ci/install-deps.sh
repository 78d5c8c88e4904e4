#!/usr/bin/env bash
# Installs the toolchain pieces the tests need. Idempotent; quick when everything is present.
set -euo pipefail
if ! rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then
  rustup component add rustfmt
fi
if ! rustup component list --installed 2>/dev/null | grep -q '^clippy'; then
  rustup component add clippy
fi

# Database servers the transactional-message and idempotence tests start on loopback
# (qmq-testkit and ci/lib/databases.sh); each test run starts its own throwaway instances.
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server mariadb-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's packages start system-wide services; the tests run their own instances.
  for service in postgresql mariadb redis-server; do
    service "$service" stop >/dev/null 2>&1 || true
  done
fi
