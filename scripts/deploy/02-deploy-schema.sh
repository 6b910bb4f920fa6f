#!/usr/bin/env bash
# Step 2 of 4: deploy the taskfleet schema (sql/migrations) to the Azure SQL database with sqlcmd, through
# scripts/deploy-schema.sh, signed in with Entra ID as the SQL server's Entra administrator (the identity that
# step 1 made administrator: you, your group, or the managed identity of DEPLOY_SQL_CLIENT_ID). The server
# accepts Entra ID only. Opens the server's firewall to this machine while it runs. Safe to run again: each
# migration applies once (a version ledger under an application lock).
#
#   DEPLOY_RESOURCE_GROUP=rg-taskfleet scripts/deploy/02-deploy-schema.sh
#
# Variables:
#   DEPLOY_RESOURCE_GROUP   required: the resource group of step 1
#   DEPLOY_SUBSCRIPTION     optional: subscription name or id (default: az's current one)
#   DEPLOY_NAME             optional: deployment name of step 1 (default: taskfleet)
#   DEPLOY_SQL_CLIENT_ID    optional: run sqlcmd as this user-assigned managed identity (a CI runner in Azure)
#                           instead of the az login
#   DEPLOY_CLIENT_IP        optional: this machine's public IPv4 address (default: asked of api.ipify.org)
#
# Needs: az (logged in as the SQL administrator), sqlcmd (go-sqlcmd, or the ODBC sqlcmd 18), curl.
set -euo pipefail
# shellcheck source=scripts/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

az_init
server="$(output sqlServerFqdn)"
database="$(output sqlDatabaseName)"
schema="$(output sqlSchema)"
open_sql_firewall "$(output sqlServerName)"

log "deploying schema ${schema} to ${server}/${database}"
args=(TASKFLEET_MSSQL_SERVER="$server" TASKFLEET_MSSQL_DATABASE="$database" TASKFLEET_MSSQL_SCHEMA="$schema"
  TASKFLEET_MSSQL_AUTH=entra TASKFLEET_MSSQL_ENCRYPT=true)
# With a client id, deploy-schema.sh signs in as that managed identity; without, ActiveDirectoryDefault (az login).
if [[ -n "${DEPLOY_SQL_CLIENT_ID:-}" ]]; then args+=(TASKFLEET_AZURE_CLIENT_ID="$DEPLOY_SQL_CLIENT_ID"); fi
with_clean_taskfleet_env "${args[@]}" bash "${repo_root}/scripts/deploy-schema.sh"

log "done. next: scripts/deploy/03-database-users.sh"
