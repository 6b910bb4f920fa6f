#!/usr/bin/env bash
# The one-shot `schema` service of infra/docker/compose.yaml: prepares the local SQL Server for the fleet.
#
#   1. creates the database TASKFLEET_MSSQL_DATABASE when it does not exist, with READ_COMMITTED_SNAPSHOT on (the
#      Azure SQL default, which the store's locking hints are written for);
#   2. applies sql/migrations with scripts/deploy-schema.sh (sqlcmd -b; SQL authentication as sa);
#   3. creates (or re-keys) the supervisor's and the workers' SQL logins, each a user in its role
#      (<schema>_supervisor, <schema>_worker, made by migration 0003), with infra/docker/app-logins.sql.
#
# Every step is idempotent: `docker compose up` runs it on each start.
#
# Variables (all set by compose.yaml):
#   TASKFLEET_MSSQL_SERVER, _PORT, _DATABASE, _SCHEMA   where the schema goes
#   TASKFLEET_MSSQL_USER, SQLCMDPASSWORD                 the administrator (sa) and its password
#   TASKFLEET_MSSQL_AUTH=sql, _ENCRYPT, _TRUST_SERVER_CERTIFICATE   passed on to scripts/deploy-schema.sh
#   SUPERVISOR_DB_LOGIN, SUPERVISOR_DB_PASSWORD          the supervisor's login
#   WORKER_DB_LOGIN, WORKER_DB_PASSWORD                  the workers' login
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
server="${TASKFLEET_MSSQL_SERVER:?}"
port="${TASKFLEET_MSSQL_PORT:-1433}"
database="${TASKFLEET_MSSQL_DATABASE:?}"
schema="${TASKFLEET_MSSQL_SCHEMA:-taskfleet}"
admin="${TASKFLEET_MSSQL_USER:?}"
: "${SQLCMDPASSWORD:?the administrator password}"

for name in SUPERVISOR_DB_PASSWORD WORKER_DB_PASSWORD; do
  # The passwords are spliced into :setvar lines and T-SQL string literals: refuse quotes rather than escape them.
  if [[ -z "${!name:-}" || "${!name}" == *[\'\"]* ]]; then
    echo "schema-init: $name must be set, without quotes" >&2
    exit 2
  fi
done
if [[ ! "$database" =~ ^[A-Za-z0-9_-]{1,128}$ ]]; then
  echo "schema-init: database \"$database\" is not a plain name" >&2
  exit 2
fi

sql() {
  # The container's SQL Server has a self-signed certificate (-C); -b stops at the first error.
  sqlcmd -b -C -S "tcp:${server},${port}" -U "$admin" -l 30 "$@"
}

echo "schema-init: waiting for ${server}:${port}"
for attempt in $(seq 1 60); do
  if sql -d master -Q 'SET NOCOUNT ON; SELECT 1' -o /dev/null; then break; fi
  [[ $attempt -lt 60 ]] || { echo "schema-init: SQL Server did not answer" >&2; exit 1; }
  sleep 2
done

echo "schema-init: database ${database}"
sql -d master -Q "IF DB_ID(N'${database}') IS NULL CREATE DATABASE [${database}];
IF (SELECT is_read_committed_snapshot_on FROM sys.databases WHERE name = N'${database}') = 0
  ALTER DATABASE [${database}] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE;"

bash "${repo}/scripts/deploy-schema.sh"

echo "schema-init: logins ${SUPERVISOR_DB_LOGIN:?} and ${WORKER_DB_LOGIN:?}"
# The variables of app-logins.sql go in as :setvar lines of a private copy (go-sqlcmd and the ODBC sqlcmd both
# read them there), so no password is ever on a command line.
script="$(mktemp)"
trap 'rm -f "$script"' EXIT
chmod 600 "$script"
{
  printf ':setvar %s "%s"\n' Database "$database" Schema "$schema" \
    SupervisorLogin "$SUPERVISOR_DB_LOGIN" SupervisorPassword "$SUPERVISOR_DB_PASSWORD" \
    WorkerLogin "$WORKER_DB_LOGIN" WorkerPassword "$WORKER_DB_PASSWORD"
  cat "${repo}/infra/docker/app-logins.sql"
} >"$script"
sql -d master -i "$script"
echo "schema-init: done"
