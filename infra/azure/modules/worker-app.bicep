// One worker pool as a Container App: `taskfleet worker` with the pool's capabilities and concurrency, scaled out
// and in (to zero when minReplicas is 0) by KEDA's metrics-api scaler on the pool's backlog as the supervisor
// counts it in SQL (GET /v1/scaling/pool), not on the length of a Redis list.
//
// Why not a Redis scaler: BullMQ keeps prioritised jobs and delayed jobs in sorted sets, not in the wait list a
// list-length scaler reads, so such a scaler misses most of the work; and Redis may have been flushed while SQL
// still holds every task (the reconciler re-sends them). The supervisor's figure is the authoritative one: due
// queued tasks plus running tasks on every route the pool can serve. Running tasks count, so that a pool is not
// scaled in under its own running tasks.

@description('Container App name.')
param name string

param location string
param tags object

@description('Resource id of the Container Apps environment.')
param environmentId string

@description('Full image reference, e.g. <registry>.azurecr.io/taskfleet-worker:<tag>.')
param image string

@description('Login server of the registry the image is pulled from (with the identity, AcrPull).')
param registryServer string

@description('Resource id of the workers\' user-assigned managed identity.')
param identityId string

@description('Key Vault references: { name, keyVaultUrl, identity }. Must include scaler-api-key.')
param secrets array

@description('Environment of the container: { name, value } or { name, secretRef }.')
param env array

@description('The pool: { name, capabilities, types, concurrency, minReplicas, maxReplicas } (see main.bicep).')
param pool object

@description('URL of GET /v1/scaling/pool for this pool, polled by KEDA with the scaler\'s reader key.')
param scalerUrl string

@description('Seconds between SIGTERM and SIGKILL: longer than TASKFLEET_DRAIN_TIMEOUT_MS.')
param terminationGracePeriodSeconds int

var workerArgs = ['worker', '--concurrency', string(pool.concurrency)]
var capabilityArgs = empty(pool.capabilities) ? [] : ['--capabilities', pool.capabilities]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'taskfleet-role': 'worker', 'taskfleet-pool': pool.name })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      // No ingress: a worker serves no HTTP. It pulls its work from Redis and SQL.
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: secrets
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'worker'
          image: image
          // The image's entrypoint is `tini -- node /app/bin/taskfleet.js`; these are the CLI's arguments.
          args: concat(workerArgs, capabilityArgs)
          env: env
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
      scale: {
        minReplicas: pool.minReplicas
        maxReplicas: pool.maxReplicas
        rules: [
          {
            name: 'pool-backlog'
            custom: {
              type: 'metrics-api'
              metadata: {
                url: scalerUrl
                format: 'json'
                // desired replicas = ceil(backlog / targetValue): one replica per `concurrency` tasks.
                valueLocation: 'backlog'
                targetValue: string(pool.concurrency)
                activationTargetValue: '0'
                authMode: 'bearer'
              }
              auth: [
                {
                  secretRef: 'scaler-api-key'
                  triggerParameter: 'token'
                }
              ]
            }
          }
        ]
      }
    }
  }
}

output name string = app.name
