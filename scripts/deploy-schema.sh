#!/usr/bin/env bash
# Deploys the taskfleet T-SQL schema (sql/migrations/NNNN_*.sql, in order) with sqlcmd -b.
#
# Each migration is idempotent and records itself in <schema>.schema_version under an application lock, so
# running this twice, or from two places at once, applies each migration exactly once. Node users without
# sqlcmd: `npm run db:deploy` applies the same files the same way.
#
# Usage:
#   scripts/deploy-schema.sh [--server HOST] [--port N] [--database DB] [--schema NAME]
#                            [--auth entra|sql] [--user NAME] [--client-id GUID]
#                            [--encrypt true|false] [--trust-server-certificate] [--dry-run]
#
# Defaults come from the same variables the application reads: TASKFLEET_MSSQL_SERVER, _PORT, _DATABASE,
# _SCHEMA, _AUTH, _USER, _ENCRYPT, _TRUST_SERVER_CERTIFICATE and TASKFLEET_AZURE_CLIENT_ID.
#
#   entra  Entra ID: go-sqlcmd --authentication-method ActiveDirectoryDefault (or ActiveDirectoryManagedIdentity
#          with --client-id), ODBC sqlcmd -G. Works with `az login`, a managed identity or workload identity.
#   sql    SQL authentication: --user, and the password in SQLCMDPASSWORD (never on the command line, where
#          any user of the machine could read it in the process list).
#
# The deploying identity needs to create schemas, tables and roles (db_owner, or db_ddladmin + db_securityadmin).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
migrations="${here}/../sql/migrations"

server="${TASKFLEET_MSSQL_SERVER:-}"
port="${TASKFLEET_MSSQL_PORT:-1433}"
database="${TASKFLEET_MSSQL_DATABASE:-}"
schema="${TASKFLEET_MSSQL_SCHEMA:-taskfleet}"
auth="${TASKFLEET_MSSQL_AUTH:-auto}"
user="${TASKFLEET_MSSQL_USER:-}"
client_id="${TASKFLEET_AZURE_CLIENT_ID:-}"
encrypt="${TASKFLEET_MSSQL_ENCRYPT:-true}"
trust="${TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE:-false}"
dry_run=false

die() {
  echo "deploy-schema: $*" >&2
  exit 2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) server="${2:?--server needs a value}"; shift 2 ;;
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --database) database="${2:?--database needs a value}"; shift 2 ;;
    --schema) schema="${2:?--schema needs a value}"; shift 2 ;;
    --auth) auth="${2:?--auth needs a value}"; shift 2 ;;
    --user) user="${2:?--user needs a value}"; shift 2 ;;
    --client-id) client_id="${2:?--client-id needs a value}"; shift 2 ;;
    --encrypt) encrypt="${2:?--encrypt needs a value}"; shift 2 ;;
    --trust-server-certificate) trust=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[[ -n "$server" ]] || die "no server: pass --server or set TASKFLEET_MSSQL_SERVER"
[[ -n "$database" ]] || die "no database: pass --database or set TASKFLEET_MSSQL_DATABASE"
[[ "$schema" =~ ^[A-Za-z_][A-Za-z0-9_]{0,63}$ ]] || die "schema \"$schema\" is not an identifier (letters, digits, _)"
[[ "$port" =~ ^[0-9]+$ ]] || die "port \"$port\" is not a number"
if [[ "$auth" == auto ]]; then
  if [[ -n "$user" ]]; then auth=sql; else auth=entra; fi
fi
[[ "$auth" == entra || "$auth" == sql ]] || die "--auth must be entra or sql"
[[ "$encrypt" == true || "$encrypt" == false ]] || die "--encrypt must be true or false"

# go-sqlcmd answers --version; the ODBC sqlcmd does not know the flag. A dry run needs no sqlcmd.
if command -v sqlcmd >/dev/null 2>&1; then
  if sqlcmd --version >/dev/null 2>&1; then flavor=go; else flavor=odbc; fi
elif [[ "$dry_run" == true ]]; then
  flavor=go
else
  die "sqlcmd is not installed (or use: npm run db:deploy)"
fi

args=(-b -I -S "tcp:${server},${port}" -d "$database" -v "Schema=${schema}" -l 30)
# -N: encryption. The ODBC sqlcmd 18 encrypts (mandatory) by default and takes -No for optional; go-sqlcmd
# takes the mode as a separate argument.
if [[ "$encrypt" == true ]]; then
  if [[ "$flavor" == go ]]; then args+=(-N m); fi
else
  if [[ "$flavor" == go ]]; then args+=(-N disable); else args+=(-No); fi
fi
[[ "$trust" == true ]] && args+=(-C)

if [[ "$auth" == sql ]]; then
  [[ -n "$user" ]] || die "SQL authentication needs --user (or TASKFLEET_MSSQL_USER)"
  [[ -n "${SQLCMDPASSWORD:-}" ]] || die "SQL authentication needs the password in SQLCMDPASSWORD"
  args+=(-U "$user")
elif [[ "$flavor" == go ]]; then
  if [[ -n "$client_id" ]]; then
    args+=(--authentication-method ActiveDirectoryManagedIdentity -U "$client_id")
  else
    args+=(--authentication-method ActiveDirectoryDefault)
  fi
else
  args+=(-G)
fi

shopt -s nullglob
files=("$migrations"/[0-9][0-9][0-9][0-9]_*.sql)
[[ ${#files[@]} -gt 0 ]] || die "no migrations in $migrations"

echo "deploy-schema: ${#files[@]} migrations to ${server}/${database}, schema ${schema} (${auth}, ${flavor} sqlcmd)"
for file in "${files[@]}"; do
  echo "deploy-schema: $(basename "$file")"
  if [[ "$dry_run" == true ]]; then
    echo "  sqlcmd ${args[*]} -i $file"
  else
    sqlcmd "${args[@]}" -i "$file"
  fi
done
echo "deploy-schema: done"
