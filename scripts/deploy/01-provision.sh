#!/usr/bin/env bash
# Step 1 of 4: provision taskfleet's Azure resources (infra/azure/main.bicep, stage `infra`): Log Analytics,
# Application Insights with the workbook and alert rules, Key Vault, Azure SQL (Entra-only) and its database,
# Azure Managed Redis, the container registry, the two managed identities and their role assignments, and the
# Container Apps environment. No app yet: the apps need the schema (step 2), their database users and API keys
# (step 3) and their images (step 4). Safe to run again.
#
#   DEPLOY_RESOURCE_GROUP=rg-taskfleet DEPLOY_LOCATION=westeurope scripts/deploy/01-provision.sh
#
# Variables:
#   DEPLOY_RESOURCE_GROUP   required: resource group, created when missing
#   DEPLOY_LOCATION         required when the group does not exist yet: its Azure region
#   DEPLOY_SUBSCRIPTION     optional: subscription name or id (default: az's current one)
#   DEPLOY_NAME             optional: deployment name (default: taskfleet)
#   DEPLOY_PARAMETERS       optional: parameters file (default: infra/azure/main.parameters.json)
#   DEPLOY_SQL_ADMIN_OBJECT_ID, DEPLOY_SQL_ADMIN_LOGIN, DEPLOY_SQL_ADMIN_TYPE
#                           optional: the SQL server's Entra administrator (default: the previous deployment's,
#                           else you). Steps 2 and 3 must run as this administrator; a group is best.
#   DEPLOY_DEPLOYER_OBJECT_ID  optional: your object id, when you are a managed identity (az login --identity)
#
# Needs: az (logged in; Owner, or Contributor + User Access Administrator, on the resource group: it creates role
# assignments), with Bicep (az bicep install).
set -euo pipefail
# shellcheck source=scripts/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

az_init
if [[ "$(az group exists -n "$rg")" != true ]]; then
  location="${DEPLOY_LOCATION:?set DEPLOY_LOCATION: the resource group ${rg} does not exist yet}"
  log "creating resource group ${rg} in ${location}"
  az group create -n "$rg" -l "$location" --only-show-errors -o none
fi

# Keep a later stage when this step runs again: it must not look like a rollback (stages only add things).
stage="$(deployed_parameter stage)"
[[ "$stage" == secrets || "$stage" == apps ]] || stage=infra
tag=""
if [[ "$stage" == apps ]]; then tag="$(deployed_parameter imageTag)"; fi
deploy_main "$stage" "$tag"

log "done. SQL server $(output sqlServerFqdn), database $(output sqlDatabaseName), vault $(output keyVaultName)," \
  "registry $(output registryLoginServer)"
log "next: scripts/deploy/02-deploy-schema.sh"
