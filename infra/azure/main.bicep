// taskfleet on Azure: Log Analytics + Application Insights, Key Vault (RBAC), Azure SQL (Entra-only), Azure Managed
// Redis (noeviction), a container registry, two user-assigned managed identities, a Container Apps environment,
// the supervisor app and one worker app per worker pool, and the workbook and alert rules of
// infra/observability/alerts.bicep.
//
// Deployed in three stages by scripts/deploy/ (see README, Deployment), because the apps need things that only
// exist after SQL does:
//   infra    01-provision.sh   everything but the apps
//   secrets  03-database-users.sh, once it has stored admin-api-key and scaler-api-key in the vault: the apps'
//            identities get read access to those two secrets
//   apps     04-rollout.sh     the supervisor and worker apps, with the images built for imageTag
// Each stage includes the ones before it, and every stage can be run again.
//
// No secret is a literal here or in the parameters file. The apps read theirs from Key Vault through Container Apps'
// Key Vault references (the platform resolves them with the app's managed identity); Bicep writes the two it can
// derive (the Redis URL with its access key, the Application Insights connection string) into the vault itself.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------- parameters

@description('Short lowercase name (letters, digits, hyphens) in every resource name, e.g. taskfleet or tf-prod.')
@minLength(2)
@maxLength(12)
param prefix string = 'taskfleet'

param location string = resourceGroup().location

@description('Deployment stage: infra, secrets or apps (see the header).')
@allowed(['infra', 'secrets', 'apps'])
param stage string = 'infra'

@description('Tag of the images taskfleet-supervisor and taskfleet-worker in the registry (stage apps).')
param imageTag string = ''

@description('Entra administrator of the SQL server: display name (a user principal name, group or app name).')
param sqlAdminLogin string

@description('Object id of the Entra administrator of the SQL server.')
param sqlAdminObjectId string

@description('Kind of the Entra administrator. A group is best; Application for a managed identity or app.')
@allowed(['User', 'Group', 'Application'])
param sqlAdminPrincipalType string = 'User'

@description('Object id of whoever runs scripts/deploy/: gets "Key Vault Secrets Officer" to store the API keys.')
param deployerObjectId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param deployerPrincipalType string = 'User'

@description('SKU of the database. Its worker limit bounds the connections of every process (see README).')
param sqlDatabaseSku object = {
  name: 'S2'
  tier: 'Standard'
}

@description('Database schema of the taskfleet tables (TASKFLEET_MSSQL_SCHEMA).')
param sqlSchema string = 'taskfleet'

@description('Azure Managed Redis SKU, 25 GB or less (the non-clustered policy needs it).')
param redisSku string = 'Balanced_B1'

@description('Supervisor replicas (fixed). Each serves the whole API; every background loop is safe to run in several.')
@minValue(1)
param supervisorReplicas int = 2

@description('Expose the supervisor API outside the environment (HTTPS; TLS ends at the Container Apps ingress).')
param supervisorExternalIngress bool = true

@description('Address ranges (CIDR) allowed to reach the supervisor\'s ingress; empty: any.')
param supervisorAllowedIpRanges array = []

@description('One worker app per pool. See the workerPool type.')
param workerPools workerPool[]

@description('Pool keys (types~capabilities, comma-separated) the supervisor declares at start (TASKFLEET_POOLS): the pools that scale to zero.')
param declaredPools string = ''

@description('E-mail address the alert rules notify; empty: the rules fire without notifying anyone.')
param alertEmail string = ''

param logRetentionDays int = 30

param tags object = {
  application: 'taskfleet'
}

@description('A pool of workers with one capability set, scaled on its own backlog.')
type workerPool = {
  @description('Lowercase short name: the app is <prefix>-worker-<name>.')
  @minLength(1)
  @maxLength(12)
  name: string

  @description('Comma-separated capabilities (taskfleet worker --capabilities); empty for none.')
  capabilities: string

  @description('Comma-separated handler types of the pool: every handler its workers load, so that capabilities and types name the pool its workers register (GET /v1/scaling/pool counts each route toward the tightest pool that covers it).')
  types: string

  @description('Tasks one replica runs at once (--concurrency), and the backlog per replica KEDA aims at.')
  @minValue(1)
  concurrency: int

  @minValue(0)
  minReplicas: int

  @minValue(1)
  maxReplicas: int
}

// ---------------------------------------------------------------- names and constants

var deployApps = stage == 'apps'
var grantScriptSecrets = stage != 'infra'
var suffix = uniqueString(resourceGroup().id, prefix)
var names = {
  logs: 'log-${prefix}'
  appInsights: 'appi-${prefix}'
  keyVault: take('kv-${prefix}-${suffix}', 24)
  registry: take('cr${replace(prefix, '-', '')}${suffix}', 50)
  sqlServer: 'sql-${prefix}-${suffix}'
  sqlDatabase: prefix
  redis: 'redis-${prefix}-${suffix}'
  environment: 'cae-${prefix}'
  supervisorIdentity: 'id-${prefix}-supervisor'
  workerIdentity: 'id-${prefix}-worker'
  supervisorApp: '${prefix}-supervisor'
}
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

// Key Vault secrets. Bicep writes the first two; scripts/deploy/03-database-users.sh stores the API keys.
var secretNames = {
  redisUrl: 'redis-url'
  appInsights: 'appinsights-connection-string'
  adminApiKey: 'admin-api-key'
  scalerApiKey: 'scaler-api-key'
  // TASKFLEET_DATA_KEY: the supervisor and every worker encrypt and decrypt sensitive tasks with it.
  dataKey: 'data-key'
}
var scriptSecrets = [secretNames.adminApiKey, secretNames.scalerApiKey, secretNames.dataKey]
var supervisorSecrets = [secretNames.redisUrl, secretNames.appInsights, secretNames.adminApiKey, secretNames.dataKey]
var workerSecrets = [secretNames.redisUrl, secretNames.appInsights, secretNames.scalerApiKey, secretNames.dataKey]

// Seconds between SIGTERM and SIGKILL. A worker drains for TASKFLEET_DRAIN_TIMEOUT_MS (25 s), then hands back what
// is left and marks its agent stopped: 30 s is the Container Apps default, set here so that the two stay together.
var drainTimeoutMs = 25000
var terminationGracePeriodSeconds = 30

// ---------------------------------------------------------------- application environment
// Every variable src/config/config.ts reads (test/repo/deployment.test.ts checks them), common to both roles.
var commonEnv = [
  { name: 'TASKFLEET_STORE', value: 'mssql' }
  { name: 'TASKFLEET_MSSQL_SERVER', value: sqlServer.properties.fullyQualifiedDomainName }
  { name: 'TASKFLEET_MSSQL_PORT', value: '1433' }
  { name: 'TASKFLEET_MSSQL_DATABASE', value: sqlDatabase.name }
  // Entra ID with the app's managed identity (TASKFLEET_AZURE_CLIENT_ID): the server accepts nothing else.
  { name: 'TASKFLEET_MSSQL_AUTH', value: 'entra' }
  { name: 'TASKFLEET_MSSQL_ENCRYPT', value: 'true' }
  { name: 'TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE', value: 'false' }
  { name: 'TASKFLEET_MSSQL_SCHEMA', value: sqlSchema }
  { name: 'TASKFLEET_MSSQL_POOL_MIN', value: '0' }
  { name: 'TASKFLEET_MSSQL_CONNECT_TIMEOUT_MS', value: '15000' }
  { name: 'TASKFLEET_MSSQL_REQUEST_TIMEOUT_MS', value: '30000' }
  { name: 'TASKFLEET_MSSQL_RETRY_ATTEMPTS', value: '4' }
  { name: 'TASKFLEET_MSSQL_RETRY_BASE_MS', value: '1000' }
  { name: 'TASKFLEET_MSSQL_RETRY_MAX_MS', value: '15000' }
  // Where kv://<secret> references are read from, should an operator add one; the platform resolves the rest.
  { name: 'TASKFLEET_KEY_VAULT_URL', value: vault.properties.vaultUri }
  { name: 'TASKFLEET_REDIS_URL', secretRef: secretNames.redisUrl }
  { name: 'TASKFLEET_REDIS_PREFIX', value: 'taskfleet' }
  { name: 'TASKFLEET_REDIS_COMMAND_TIMEOUT_MS', value: '5000' }
  { name: 'TASKFLEET_LEASE_DURATION_MS', value: '30000' }
  { name: 'TASKFLEET_HEARTBEAT_INTERVAL_MS', value: '5000' }
  { name: 'TASKFLEET_HEARTBEAT_THRESHOLDS', value: '3,5,10' }
  { name: 'TASKFLEET_RECONCILE_INTERVAL_MS', value: '5000' }
  { name: 'TASKFLEET_STALL_AFTER_MS', value: '60000' }
  { name: 'TASKFLEET_REAPER_INTERVAL_MS', value: '1000' }
  { name: 'TASKFLEET_SCHEDULER_INTERVAL_MS', value: '1000' }
  { name: 'TASKFLEET_ROUTE_REFRESH_MS', value: '1000' }
  { name: 'TASKFLEET_WATCH_POLL_MS', value: '1000' }
  { name: 'TASKFLEET_AGENT_CLAIM_POLL_MS', value: '1000' }
  { name: 'TASKFLEET_ROUTE_GATE_MS', value: '250' }
  { name: 'TASKFLEET_UNROUTABLE_EXPIRE_AFTER', value: '0' }
  { name: 'TASKFLEET_AGENT_METRICS_INTERVAL_MS', value: '60000' }
  { name: 'TASKFLEET_AGENT_METRICS_KEEP_MS', value: '86400000' }
  { name: 'TASKFLEET_STREAM_STALL_MS', value: '10000' }
  { name: 'TASKFLEET_DISPATCH_BATCH', value: '10' }
  { name: 'TASKFLEET_SPILL_AFTER_MS', value: '1000' }
  { name: 'TASKFLEET_DEFAULT_MAX_ATTEMPTS', value: '3' }
  { name: 'TASKFLEET_BACKOFF_BASE_MS', value: '1000' }
  { name: 'TASKFLEET_BACKOFF_MAX_MS', value: '300000' }
  { name: 'TASKFLEET_DEFAULT_TIMEOUT_SECONDS', value: '300' }
  { name: 'TASKFLEET_MAX_PAYLOAD_BYTES', value: '262144' }
  { name: 'TASKFLEET_MAX_BODY_BYTES', value: '33554432' }
  { name: 'TASKFLEET_RESULT_MAX_BYTES', value: '1048576' }
  { name: 'TASKFLEET_DRAIN_TIMEOUT_MS', value: string(drainTimeoutMs) }
  { name: 'TASKFLEET_RATE_LIMIT_PER_SECOND', value: '200' }
  { name: 'TASKFLEET_RATE_LIMIT_BURST', value: '400' }
  { name: 'TASKFLEET_RETENTION_SUCCEEDED', value: '7d' }
  { name: 'TASKFLEET_RETENTION_DEAD', value: '30d' }
  { name: 'TASKFLEET_RETENTION_AGENTS', value: '7d' }
  { name: 'TASKFLEET_RETENTION_AUDIT', value: '365d' }
  { name: 'TASKFLEET_PURGE_BATCH', value: '1000' }
  { name: 'TASKFLEET_PURGE_PAUSE_MS', value: '100' }
  { name: 'TASKFLEET_PURGE_INTERVAL_MS', value: '60000' }
  { name: 'TASKFLEET_LOG_LEVEL', value: 'info' }
  { name: 'TASKFLEET_LOG_FORMAT', value: 'json' }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', secretRef: secretNames.appInsights }
  { name: 'TASKFLEET_DATA_KEY', secretRef: secretNames.dataKey }
]

var supervisorEnv = [
  { name: 'TASKFLEET_PORT', value: '8080' }
  { name: 'TASKFLEET_HOST', value: '0.0.0.0' }
  { name: 'TASKFLEET_AZURE_CLIENT_ID', value: supervisorIdentity.properties.clientId }
  // 10 connections a supervisor: see README, Deployment, for the sum every process must stay under.
  { name: 'TASKFLEET_MSSQL_POOL_MAX', value: '10' }
  { name: 'TASKFLEET_ADMIN_API_KEY', secretRef: secretNames.adminApiKey }
  { name: 'TASKFLEET_POOLS', value: declaredPools }
]

var workerEnv = [
  { name: 'TASKFLEET_AZURE_CLIENT_ID', value: workerIdentity.properties.clientId }
  // A worker holds a connection only for one statement at a time (claim, renew, record, heartbeat).
  { name: 'TASKFLEET_MSSQL_POOL_MAX', value: '4' }
]

// ---------------------------------------------------------------- monitoring

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.logs
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.appInsights
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    IngestionMode: 'LogAnalytics'
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${prefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take(prefix, 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// The workbook and the four log alert rules of the observability issue, with their KQL from infra/observability/kql.
module observability '../observability/alerts.bicep' = {
  name: 'taskfleet-observability'
  params: {
    appInsightsId: appInsights.id
    actionGroupId: empty(alertEmail) ? '' : actionGroup.id
    location: location
  }
}

// ---------------------------------------------------------------- identities

// Two identities, not one: each maps to its own database role (taskfleet_supervisor, taskfleet_worker, made by
// sql/migrations/0003_roles.sql) and reads only its own secrets. Workers run task handlers; they never get the
// admin key, and cannot read API keys or the audit log in SQL.
resource supervisorIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.supervisorIdentity
  location: location
  tags: tags
}

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.workerIdentity
  location: location
  tags: tags
}

// ---------------------------------------------------------------- registry

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: names.registry
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
  }
}

resource supervisorAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, supervisorIdentity.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: supervisorIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource workerAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, workerIdentity.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- Key Vault

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: names.keyVault
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerObjectId)) {
  name: guid(vault.id, deployerObjectId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: deployerObjectId
    principalType: deployerPrincipalType
  }
}

// ioredis cannot refresh Entra tokens, so the workers and the supervisor use an access key, kept here.
resource redisUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretNames.redisUrl
  properties: {
    contentType: 'TASKFLEET_REDIS_URL: rediss:// URL with the access key'
    value: 'rediss://:${uriComponent(redisDatabase.listKeys().primaryKey)}@${redis.properties.hostName}:${redisDatabase.properties.port}'
  }
}

resource appInsightsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretNames.appInsights
  properties: {
    contentType: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
}

// Read access per identity and per secret. The two secrets the scripts store exist from stage `secrets` on.
module supervisorSecretReaders 'modules/secret-reader.bicep' = [
  for secret in supervisorSecrets: if (grantScriptSecrets || !contains(scriptSecrets, secret)) {
    name: 'kv-read-supervisor-${secret}'
    params: {
      vaultName: vault.name
      secretName: secret
      principalId: supervisorIdentity.properties.principalId
      identityId: supervisorIdentity.id
    }
    dependsOn: [redisUrlSecret, appInsightsSecret]
  }
]

module workerSecretReaders 'modules/secret-reader.bicep' = [
  for secret in workerSecrets: if (grantScriptSecrets || !contains(scriptSecrets, secret)) {
    name: 'kv-read-worker-${secret}'
    params: {
      vaultName: vault.name
      secretName: secret
      principalId: workerIdentity.properties.principalId
      identityId: workerIdentity.id
    }
    dependsOn: [redisUrlSecret, appInsightsSecret]
  }
]

// ---------------------------------------------------------------- Azure SQL (Entra-only)

resource sqlServer 'Microsoft.Sql/servers@2021-11-01' = {
  name: names.sqlServer
  location: location
  tags: tags
  properties: {
    minimalTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    administrators: {
      administratorType: 'ActiveDirectory'
      azureADOnlyAuthentication: true
      login: sqlAdminLogin
      sid: sqlAdminObjectId
      principalType: sqlAdminPrincipalType
      tenantId: subscription().tenantId
    }
  }
}

// The Container Apps environment has no fixed outbound addresses without a virtual network: admit Azure's own.
// (From inside Azure the connection policy is Redirect: outbound 1433 and 11000-11999 must be open.) The
// deployment scripts open the server to the operator's address only while they run.
resource sqlAllowAzure 'Microsoft.Sql/servers/firewallRules@2021-11-01' = {
  parent: sqlServer
  name: 'AllowAllWindowsAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource sqlDatabase 'Microsoft.Sql/servers/databases@2021-11-01' = {
  parent: sqlServer
  name: names.sqlDatabase
  location: location
  tags: tags
  sku: sqlDatabaseSku
  properties: {
    collation: 'SQL_Latin1_General_CP1_CI_AS'
  }
}

// ---------------------------------------------------------------- Redis

// Azure Managed Redis, non-clustered: BullMQ's Lua scripts touch several keys of a queue at once, and taskfleet's
// key prefix carries no hash tag, so a sharded database would answer CROSSSLOT. Eviction off (noeviction): an
// evicted job would only come back through the reconciler. No persistence: SQL is the truth, and after a restart
// the reconciler sends every queued task again.
resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: names.redis
  location: location
  tags: tags
  sku: {
    name: redisSku
  }
  properties: {
    minimumTlsVersion: '1.2'
  }
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: redis
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'NoCluster'
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Enabled'
  }
}

// ---------------------------------------------------------------- Container Apps

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: names.environment
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

resource supervisorApp 'Microsoft.App/containerApps@2024-03-01' = if (deployApps) {
  name: names.supervisorApp
  location: location
  tags: union(tags, { 'taskfleet-role': 'supervisor' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${supervisorIdentity.id}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: supervisorExternalIngress
        targetPort: 8080
        transport: 'http'
        allowInsecure: false
        ipSecurityRestrictions: [
          for (cidr, i) in supervisorAllowedIpRanges: {
            name: 'allowed-${i}'
            ipAddressRange: cidr
            action: 'Allow'
          }
        ]
      }
      registries: [
        {
          server: registry.properties.loginServer
          identity: supervisorIdentity.id
        }
      ]
      secrets: map(supervisorSecrets, name => {
        name: name
        keyVaultUrl: '${vault.properties.vaultUri}secrets/${name}'
        identity: supervisorIdentity.id
      })
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'supervisor'
          image: '${registry.properties.loginServer}/taskfleet-supervisor:${imageTag}'
          // The image's entrypoint is `tini -- node /app/bin/taskfleet.js`; this is the CLI's argument.
          args: ['supervisor']
          env: concat(commonEnv, supervisorEnv)
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          probes: [
            {
              // Starting includes connecting to SQL and Redis (with retries): up to about a minute.
              type: 'Startup'
              httpGet: {
                path: '/healthz'
                port: 8080
              }
              initialDelaySeconds: 5
              periodSeconds: 5
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: 8080
              }
              periodSeconds: 10
              timeoutSeconds: 3
              failureThreshold: 3
            }
            {
              // 503 while SQL or Redis does not answer: the replica leaves the load balancer, and is not restarted.
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: 8080
              }
              periodSeconds: 5
              timeoutSeconds: 3
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: supervisorReplicas
        maxReplicas: supervisorReplicas
      }
    }
  }
  dependsOn: [supervisorAcrPull, supervisorSecretReaders]
}

module workerApps 'modules/worker-app.bicep' = [
  for pool in workerPools: if (deployApps) {
    name: 'worker-app-${pool.name}'
    params: {
      name: '${prefix}-worker-${pool.name}'
      location: location
      tags: tags
      environmentId: environment.id
      image: '${registry.properties.loginServer}/taskfleet-worker:${imageTag}'
      registryServer: registry.properties.loginServer
      identityId: workerIdentity.id
      secrets: map(workerSecrets, name => {
        name: name
        keyVaultUrl: '${vault.properties.vaultUri}secrets/${name}'
        identity: workerIdentity.id
      })
      env: concat(commonEnv, workerEnv)
      pool: pool
      // KEDA polls the supervisor through its ingress, with the reader key of scaler-api-key as a bearer token.
      scalerUrl: 'https://${supervisorApp.properties.configuration.ingress.fqdn}/v1/scaling/pool?capabilities=${pool.capabilities}&types=${pool.types}&perReplica=${pool.concurrency}'
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
    }
    dependsOn: [workerAcrPull, workerSecretReaders]
  }
]

// ---------------------------------------------------------------- outputs (no secrets; read by scripts/deploy/)

output keyVaultName string = vault.name
output keyVaultUri string = vault.properties.vaultUri
output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output sqlServerName string = sqlServer.name
output sqlServerFqdn string = sqlServer.properties.fullyQualifiedDomainName
output sqlDatabaseName string = sqlDatabase.name
output sqlSchema string = sqlSchema
output supervisorIdentityName string = supervisorIdentity.name
output supervisorIdentityClientId string = supervisorIdentity.properties.clientId
output workerIdentityName string = workerIdentity.name
output workerIdentityClientId string = workerIdentity.properties.clientId
output containerAppsEnvironmentName string = environment.name
output supervisorAppName string = names.supervisorApp
output supervisorUrl string = deployApps ? 'https://${supervisorApp.properties.configuration.ingress.fqdn}' : ''
output workerAppNames array = [for pool in workerPools: '${prefix}-worker-${pool.name}']
output drainTimeoutMs int = drainTimeoutMs
