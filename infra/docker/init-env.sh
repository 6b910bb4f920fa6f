#!/usr/bin/env bash
# Writes infra/docker/.env, the secrets of the local compose stack, with fresh random values. Run it once before
# the first `docker compose -f infra/docker/compose.yaml up`; it never overwrites an existing file (delete the
# file and the volumes, `docker compose ... down -v`, to start over). .env is git-ignored.
#
# Variables it writes (compose.yaml reads them; none is passed to a container unless compose.yaml says so):
#   MSSQL_SA_PASSWORD          SQL Server's sa: the schema service's administrator
#   SUPERVISOR_DB_PASSWORD     the supervisor's SQL login (taskfleet-supervisor)
#   WORKER_DB_PASSWORD         the workers' SQL login (taskfleet-worker)
#   TASKFLEET_ADMIN_API_KEY    the supervisor's bootstrap admin key: export it as TASKFLEET_API_KEY for the CLI
#   TASKFLEET_DATA_KEY         the key that encrypts sensitive tasks (supervisor and workers): k1:<32 random bytes>
# Optional, added by hand: APPLICATIONINSIGHTS_CONNECTION_STRING, SUPERVISOR_HOST_PORT (8080),
# SQLSERVER_HOST_PORT (14330).
set -euo pipefail

file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.env"
if [[ -e "$file" ]]; then
  echo "init-env: $file exists; leaving it as it is"
  exit 0
fi

# Letters and digits from the kernel's random source (head reads a fixed count: no SIGPIPE under pipefail).
random_alnum() {
  local raw
  raw="$(head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  printf '%s' "${raw:0:$1}"
}

# SQL Server's password policy wants three of: upper case, lower case, digits, symbols.
sql_password() { printf 'Tf1-%s' "$(random_alnum 28)"; }

# The format of `taskfleet keys generate`: tfk_ and 43 base64url characters (256 random bits).
api_key() { printf 'tfk_%s' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; }

umask 077
cat >"$file" <<EOF
# Secrets of the local compose stack (infra/docker/compose.yaml), written by init-env.sh. Never commit this file.
MSSQL_SA_PASSWORD=$(sql_password)
SUPERVISOR_DB_PASSWORD=$(sql_password)
WORKER_DB_PASSWORD=$(sql_password)
TASKFLEET_ADMIN_API_KEY=$(api_key)
TASKFLEET_DATA_KEY=k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')
EOF
echo "init-env: wrote $file"
echo "init-env: for the CLI, run: export TASKFLEET_API_KEY=\$(grep ^TASKFLEET_ADMIN_API_KEY= $file | cut -d= -f2)"
