#!/usr/bin/env bash
# Step 4 of 4: roll out the apps. Builds the two images from this working tree (infra/docker/*.Dockerfile) and
# pushes them to the registry of step 1, then deploys main.bicep at stage `apps` with that tag: the supervisor app
# and one worker app per pool of the parameters file. Container Apps replaces the revisions: the old workers get
# SIGTERM, drain for up to TASKFLEET_DRAIN_TIMEOUT_MS (25 s) within their 30 s grace period and hand back the
# rest. Waits until the supervisor answers /readyz, and prints how to check the scaler. Run it for every release.
#
#   DEPLOY_RESOURCE_GROUP=rg-taskfleet scripts/deploy/04-rollout.sh
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
#   DEPLOY_IMAGE_TAG        optional: image tag (default: the commit, with -dirty.<time> for uncommitted changes)
#   DEPLOY_BUILDER          optional: acr (default: `az acr build`, builds in Azure, no local Docker) or docker
#                           (docker build + docker push on this machine)
#   DEPLOY_SKIP_BUILD       optional: 1 to deploy DEPLOY_IMAGE_TAG as it is in the registry, building nothing
#   DEPLOY_READY_TIMEOUT_S  optional: how long to wait for /readyz (default: 300)
#
# Needs: az (logged in), curl, git; docker for DEPLOY_BUILDER=docker.
set -euo pipefail
# shellcheck source=scripts/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_commands curl git
az_init
registry="$(output registryName)"
login_server="$(output registryLoginServer)"

tag="${DEPLOY_IMAGE_TAG:-}"
if [[ -z "$tag" ]]; then
  tag="$(git -C "$repo_root" rev-parse --short=12 HEAD)"
  if [[ -n "$(git -C "$repo_root" status --porcelain)" ]]; then tag="${tag}-dirty.$(date -u +%Y%m%d%H%M%S)"; fi
fi

if [[ "${DEPLOY_SKIP_BUILD:-0}" != 1 ]]; then
  for image in supervisor worker; do
    ref="taskfleet-${image}:${tag}"
    case "${DEPLOY_BUILDER:-acr}" in
      acr)
        log "building ${ref} in ${registry} (az acr build)"
        az acr build -r "$registry" -t "$ref" -f "infra/docker/${image}.Dockerfile" "$repo_root" --only-show-errors -o none
        ;;
      docker)
        require_commands docker
        log "building ${login_server}/${ref} (docker build)"
        docker build -f "${repo_root}/infra/docker/${image}.Dockerfile" -t "${login_server}/${ref}" "$repo_root"
        az acr login -n "$registry" --only-show-errors
        docker push "${login_server}/${ref}"
        ;;
      *) die "DEPLOY_BUILDER must be acr or docker" ;;
    esac
  done
fi

# Role assignments made by step 3 can take a minute or two to reach Key Vault; the apps cannot start before.
if ! deploy_main apps "$tag"; then
  log "the deployment failed; if Key Vault refused a secret, its role assignment is still propagating: retrying in 90 s"
  sleep 90
  deploy_main apps "$tag"
fi

url="$(output supervisorUrl)"
if [[ "$url" == *.internal.* ]]; then
  log "the supervisor's ingress is internal (${url}): not reachable from here, so not waiting for /readyz"
else
  deadline=$((SECONDS + ${DEPLOY_READY_TIMEOUT_S:-300}))
  log "waiting for ${url}/readyz"
  until curl -fsS --max-time 5 "${url}/readyz" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "${url}/readyz did not answer 200; see: az containerapp logs show -g ${rg} -n $(output supervisorAppName)"
    sleep 5
  done
fi

log "rolled out ${tag}: supervisor ${url}; worker apps: $(output workerAppNames | tr '\n\t' '  ')"
cat >&2 <<EOF
[${step}] check the scaler's view of a pool, as KEDA sees it:
  curl -s -H "Authorization: Bearer \$(az keyvault secret show --vault-name $(output keyVaultName) -n scaler-api-key --query value -o tsv)" \\
    '${url}/v1/scaling/pool?types=echo,fail,judge,sleep'
[${step}] and the replicas KEDA chose: az containerapp replica list -g ${rg} -n <worker app>
EOF
