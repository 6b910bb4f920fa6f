#!/usr/bin/env bash
# Shared by scripts/deploy/01-provision.sh … 04-rollout.sh (sourced, never run on its own).
#
# Variables every step reads (the steps document their own at their top):
#   DEPLOY_RESOURCE_GROUP   required: the resource group of the deployment
#   DEPLOY_SUBSCRIPTION     optional: subscription name or id (default: az's current one)
#   DEPLOY_NAME             optional: name of the resource-group deployment whose outputs the steps read
#                           (default: taskfleet)
#   DEPLOY_PARAMETERS       optional: parameters file (default: infra/azure/main.parameters.json)
#   DEPLOY_SQL_ADMIN_OBJECT_ID, DEPLOY_SQL_ADMIN_LOGIN, DEPLOY_SQL_ADMIN_TYPE
#                           optional: the SQL server's Entra administrator (object id, display name, and
#                           User | Group | Application). Default: the one of the previous deployment, else the
#                           signed-in az user. The steps that run sqlcmd must run as this administrator (or a
#                           member of the group).
#   DEPLOY_SQL_CLIENT_ID    optional: client id of a user-assigned managed identity to run sqlcmd and
#                           `taskfleet keys` as (on a CI runner in Azure); default: the az login
#                           (ActiveDirectoryDefault)
#   DEPLOY_DEPLOYER_OBJECT_ID  optional: object id of the caller when it is a managed identity (az login --identity)
#   DEPLOY_CLIENT_IP        optional: this machine's public address, opened on the SQL firewall while a step runs
#                           (default: asked of https://api.ipify.org)
#
# Names start with DEPLOY_, never TASKFLEET_: `taskfleet` refuses unknown TASKFLEET_* variables, and the steps run it.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
step="$(basename "$0")"
: "${DEPLOY_NAME:=taskfleet}"
: "${DEPLOY_PARAMETERS:=${repo_root}/infra/azure/main.parameters.json}"

log() { echo "[${step}] $*" >&2; }
die() {
  echo "[${step}] error: $*" >&2
  exit 1
}

require_commands() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || die "$c is not installed (see README, Deployment: prerequisites)"; done
}

# Checks the az login and selects the subscription; sets $rg.
az_init() {
  require_commands az
  rg="${DEPLOY_RESOURCE_GROUP:?set DEPLOY_RESOURCE_GROUP to the resource group of the deployment}"
  az account show -o none 2>/dev/null || die "not logged in: run az login"
  if [[ -n "${DEPLOY_SUBSCRIPTION:-}" ]]; then az account set --subscription "$DEPLOY_SUBSCRIPTION"; fi
  log "subscription $(az account show --query name -o tsv), resource group ${rg}"
}

# An output of the last deployment of main.bicep (01-provision.sh must have run).
output() {
  local value
  value="$(az deployment group show -g "$rg" -n "$DEPLOY_NAME" --query "properties.outputs.$1.value" -o tsv 2>/dev/null)" ||
    die "no deployment ${DEPLOY_NAME} in ${rg}: run 01-provision.sh first"
  [[ -n "$value" ]] || die "the deployment ${DEPLOY_NAME} has no output $1: run 01-provision.sh again"
  printf '%s' "$value"
}

# A parameter of the last deployment, or nothing.
deployed_parameter() {
  az deployment group show -g "$rg" -n "$DEPLOY_NAME" --query "properties.parameters.$1.value" -o tsv 2>/dev/null || true
}

# Who runs this: sets $me_id and $me_type (User or ServicePrincipal) and $me_name. A managed identity logged in
# with `az login --identity` cannot look itself up: give its object id in DEPLOY_DEPLOYER_OBJECT_ID.
whoami_azure() {
  local kind
  kind="$(az account show --query user.type -o tsv)"
  if [[ -n "${DEPLOY_DEPLOYER_OBJECT_ID:-}" ]]; then
    me_id="$DEPLOY_DEPLOYER_OBJECT_ID"
    me_name="$(az account show --query user.name -o tsv)"
    me_type=ServicePrincipal
  elif [[ "$kind" == servicePrincipal ]]; then
    me_name="$(az account show --query user.name -o tsv)"
    me_id="$(az ad sp show --id "$me_name" --query id -o tsv)"
    me_type=ServicePrincipal
  else
    me_id="$(az ad signed-in-user show --query id -o tsv)"
    me_name="$(az ad signed-in-user show --query userPrincipalName -o tsv)"
    me_type=User
  fi
}

# The SQL Entra administrator: explicit, else sticky (the previous deployment's), else the caller.
resolve_sql_admin() {
  whoami_azure
  sql_admin_id="${DEPLOY_SQL_ADMIN_OBJECT_ID:-$(deployed_parameter sqlAdminObjectId)}"
  sql_admin_login="${DEPLOY_SQL_ADMIN_LOGIN:-$(deployed_parameter sqlAdminLogin)}"
  sql_admin_type="${DEPLOY_SQL_ADMIN_TYPE:-$(deployed_parameter sqlAdminPrincipalType)}"
  if [[ -z "$sql_admin_id" ]]; then
    sql_admin_id="$me_id"
    sql_admin_login="$me_name"
    if [[ "$me_type" == User ]]; then sql_admin_type=User; else sql_admin_type=Application; fi
  fi
  [[ -n "$sql_admin_login" ]] || die "set DEPLOY_SQL_ADMIN_LOGIN (the display name of DEPLOY_SQL_ADMIN_OBJECT_ID)"
  : "${sql_admin_type:=User}"
}

# Deploys infra/azure/main.bicep at a stage (infra | secrets | apps) and, for apps, an image tag.
deploy_main() {
  local stage="$1" tag="${2:-}"
  resolve_sql_admin
  log "deploying main.bicep, stage ${stage}${tag:+, images ${tag}} (SQL administrator: ${sql_admin_login})"
  az deployment group create -g "$rg" -n "$DEPLOY_NAME" \
    --template-file "${repo_root}/infra/azure/main.bicep" \
    --parameters "@${DEPLOY_PARAMETERS}" \
    --parameters stage="$stage" imageTag="$tag" \
      sqlAdminLogin="$sql_admin_login" sqlAdminObjectId="$sql_admin_id" sqlAdminPrincipalType="$sql_admin_type" \
      deployerObjectId="$me_id" deployerPrincipalType="$me_type" \
    --only-show-errors -o none
}

# Opens the SQL server's firewall to this machine until the calling script exits.
open_sql_firewall() {
  local server="$1" ip
  ip="${DEPLOY_CLIENT_IP:-}"
  if [[ -z "$ip" ]]; then
    require_commands curl
    ip="$(curl -fsS --max-time 10 https://api.ipify.org)" || die "cannot find this machine's public address: set DEPLOY_CLIENT_IP"
  fi
  [[ "$ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "DEPLOY_CLIENT_IP \"$ip\" is not an IPv4 address"
  firewall_rule="deploy-${ip//./-}"
  log "opening ${server} to ${ip} (firewall rule ${firewall_rule}, removed on exit)"
  az sql server firewall-rule create -g "$rg" -s "$server" -n "$firewall_rule" \
    --start-ip-address "$ip" --end-ip-address "$ip" --only-show-errors -o none
  firewall_server="$server"
  trap close_sql_firewall EXIT
}

close_sql_firewall() {
  if [[ -n "${firewall_rule:-}" ]]; then
    az sql server firewall-rule delete -g "$rg" -s "$firewall_server" -n "$firewall_rule" --only-show-errors -o none ||
      log "could not remove firewall rule ${firewall_rule}: remove it by hand"
  fi
}

# sqlcmd arguments for Entra ID against Azure SQL (go-sqlcmd or the ODBC sqlcmd), as scripts/deploy-schema.sh does.
sqlcmd_entra_args() {
  local server="$1" database="$2"
  require_commands sqlcmd
  sqlcmd_args=(-b -I -S "tcp:${server},1433" -d "$database" -l 30)
  if sqlcmd --version >/dev/null 2>&1; then
    sqlcmd_args+=(-N m)
    if [[ -n "${DEPLOY_SQL_CLIENT_ID:-}" ]]; then
      sqlcmd_args+=(--authentication-method ActiveDirectoryManagedIdentity -U "$DEPLOY_SQL_CLIENT_ID")
    else
      sqlcmd_args+=(--authentication-method ActiveDirectoryDefault)
    fi
  else
    sqlcmd_args+=(-Nm -G)
  fi
}

# Runs a command with no TASKFLEET_* variable of the caller's shell, plus the ones given (NAME=value ...).
with_clean_taskfleet_env() {
  local unset_args=() name
  for name in $(compgen -e); do
    if [[ "$name" == TASKFLEET_* ]]; then unset_args+=(-u "$name"); fi
  done
  # ${a[@]+"${a[@]}"}: an empty array under `set -u` in the bash 3.2 of macOS.
  env ${unset_args[@]+"${unset_args[@]}"} "$@"
}
