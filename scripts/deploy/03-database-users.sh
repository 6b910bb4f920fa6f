#!/usr/bin/env bash
# Step 3 of 4: the identities' access.
#   1. In the database, as the SQL server's Entra administrator: a user for the supervisor's managed identity in
#      role <schema>_supervisor and one for the workers' identity in <schema>_worker
#      (scripts/deploy/identity-users.sql).
#   2. In Key Vault, when they are missing: admin-api-key, the supervisor's bootstrap admin key
#      (TASKFLEET_ADMIN_API_KEY, made by `taskfleet keys generate`), and scaler-api-key, a `reader` API key
#      created in the database with `taskfleet keys create`, which KEDA sends to GET /v1/scaling/pool; and
#      data-key (TASKFLEET_DATA_KEY), the key of sensitive tasks, which the supervisor and the workers share.
#   3. main.bicep at stage `secrets`: each app's identity may read its own of those secrets.
# Opens the SQL server's firewall to this machine while it runs. Safe to run again: nothing is made twice. To
# rotate a key, revoke it (`taskfleet keys revoke`), delete its secret (az keyvault secret delete, then purge),
# run this step and step 4 again.
#
#   DEPLOY_RESOURCE_GROUP=rg-taskfleet scripts/deploy/03-database-users.sh
#
# Variables:
#   DEPLOY_RESOURCE_GROUP   required: the resource group of step 1
#   DEPLOY_SUBSCRIPTION     optional: subscription name or id (default: az's current one)
#   DEPLOY_NAME             optional: deployment name of step 1 (default: taskfleet)
#   DEPLOY_PARAMETERS       optional: parameters file (default: infra/azure/main.parameters.json)
#   DEPLOY_SQL_ADMIN_OBJECT_ID, DEPLOY_SQL_ADMIN_LOGIN, DEPLOY_SQL_ADMIN_TYPE
#                           optional: the SQL server's Entra administrator, as in step 1 (default: the
#                           previous deployment's)
#   DEPLOY_DEPLOYER_OBJECT_ID  optional: your object id, when you are a managed identity (az login --identity)
#   DEPLOY_SQL_CLIENT_ID    optional: run sqlcmd and `taskfleet keys` as this user-assigned managed identity
#   DEPLOY_CLIENT_IP        optional: this machine's public IPv4 address (default: asked of api.ipify.org)
#   DEPLOY_SCALER_KEY_NAME  optional: name of the scaler's reader key in the database (default: keda-scaler)
#
# Needs: az (logged in as the SQL administrator), sqlcmd, curl, and Node.js 20 with this repository installed
# (`npm ci`: the step runs bin/taskfleet.js).
set -euo pipefail
# shellcheck source=scripts/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_commands node
[[ -f "${repo_root}/dist/src/cli/main.js" ]] || die "taskfleet is not built: run npm ci in ${repo_root}"
az_init
server="$(output sqlServerFqdn)"
database="$(output sqlDatabaseName)"
schema="$(output sqlSchema)"
vault="$(output keyVaultName)"
open_sql_firewall "$(output sqlServerName)"

# ---- 1. database users
tmp="$(mktemp -d)"
chmod 700 "$tmp"
# Also closes the firewall: this trap replaces the one open_sql_firewall set.
trap 'rm -rf "$tmp"; close_sql_firewall' EXIT

log "database users for $(output supervisorIdentityName) and $(output workerIdentityName)"
# The script's variables as :setvar lines before it: go-sqlcmd and the ODBC sqlcmd read them alike.
{
  printf ':setvar %s "%s"\n' Schema "$schema" \
    SupervisorUser "$(output supervisorIdentityName)" SupervisorClientId "$(output supervisorIdentityClientId)" \
    WorkerUser "$(output workerIdentityName)" WorkerClientId "$(output workerIdentityClientId)"
  cat "${repo_root}/scripts/deploy/identity-users.sql"
} >"${tmp}/identity-users.sql"
sqlcmd_entra_args "$server" "$database"
sqlcmd "${sqlcmd_args[@]}" -i "${tmp}/identity-users.sql"

# ---- 2. API keys in Key Vault (each value goes through a private file: never on a command line)
secret_exists() { az keyvault secret show --vault-name "$vault" -n "$1" --query id -o tsv >/dev/null 2>&1; }

store_secret() {
  local name="$1" file="$2"
  az keyvault secret set --vault-name "$vault" -n "$name" --file "$file" --encoding utf-8 \
    --content-type "$3" --only-show-errors -o none
}

taskfleet() {
  local args=(TASKFLEET_STORE=mssql TASKFLEET_MSSQL_SERVER="$server" TASKFLEET_MSSQL_DATABASE="$database"
    TASKFLEET_MSSQL_SCHEMA="$schema" TASKFLEET_MSSQL_AUTH=entra TASKFLEET_LOG_LEVEL=warn)
  if [[ -n "${DEPLOY_SQL_CLIENT_ID:-}" ]]; then args+=(TASKFLEET_AZURE_CLIENT_ID="$DEPLOY_SQL_CLIENT_ID"); fi
  with_clean_taskfleet_env "${args[@]}" node "${repo_root}/bin/taskfleet.js" "$@"
}

if secret_exists admin-api-key; then
  log "admin-api-key: in ${vault} already"
else
  log "admin-api-key: generating the supervisor's bootstrap admin key"
  (umask 077 && taskfleet keys generate | tr -d '\n' >"${tmp}/admin")
  store_secret admin-api-key "${tmp}/admin" 'TASKFLEET_ADMIN_API_KEY: taskfleet bootstrap admin key'
fi

if secret_exists scaler-api-key; then
  log "scaler-api-key: in ${vault} already"
else
  name="${DEPLOY_SCALER_KEY_NAME:-keda-scaler}"
  log "scaler-api-key: creating reader key \"${name}\" in the database for KEDA"
  (umask 077 && taskfleet keys create --role reader --name "$name" --json >"${tmp}/created.json")
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).key)' \
    "${tmp}/created.json" >"${tmp}/scaler"
  store_secret scaler-api-key "${tmp}/scaler" 'reader API key for GET /v1/scaling/pool (KEDA metrics-api)'
fi

if secret_exists data-key; then
  log "data-key: in ${vault} already (rotate by hand: README, Sensitive tasks)"
else
  log "data-key: generating the key of sensitive tasks (TASKFLEET_DATA_KEY)"
  (umask 077 && printf 'k1:%s' "$(head -c 32 /dev/urandom | base64 | tr -d '\n')" >"${tmp}/data-key")
  store_secret data-key "${tmp}/data-key" 'TASKFLEET_DATA_KEY: keys of sensitive tasks, id:<base64>, the first encrypts'
fi

# ---- 3. the apps' identities may read those secrets
stage="$(deployed_parameter stage)"
if [[ "$stage" == apps ]]; then
  deploy_main apps "$(deployed_parameter imageTag)"
else
  deploy_main secrets
fi

log "done. next: scripts/deploy/04-rollout.sh"
