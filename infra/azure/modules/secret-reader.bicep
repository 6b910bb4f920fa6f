// Lets one managed identity read one Key Vault secret ("Key Vault Secrets User" on the secret, not the vault):
// the workers, which run task handlers, never get to read the admin key, and the supervisor never reads the
// scaler's key. The secret must exist when this is deployed.

@description('Name of the Key Vault (RBAC authorization).')
param vaultName string

@description('Name of the secret the identity may read.')
param secretName string

@description('Principal (object) id of the managed identity.')
param principalId string

@description('Resource id of the managed identity: keeps the role assignment\'s name stable across deployments.')
param identityId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: secretName
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(secret.id, identityId, keyVaultSecretsUser)
  scope: secret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
