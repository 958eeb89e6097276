// Least-privilege role assignments for the function app's system-assigned identity, each scoped to
// the one resource it is for, plus (optionally) Key Vault Secrets Officer for the person or pipeline
// that deploys, so they can set and rotate the secrets.

@description('Principal (object) id of the function app identity.')
param appPrincipalId string

@description('Storage account the app uses for the host, the deployment package and its tables.')
param storageAccountName string

@description('Key Vault holding the app secrets.')
param keyVaultName string

@description('Application Insights component the app sends telemetry to.')
param appInsightsName string

@description('Object id of the deploying user or pipeline; empty for none.')
param deployerPrincipalId string = ''

@description('Kind of principal deployerPrincipalId is.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

// Built-in role definition ids (the same in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // host leases, timer status, deployment package
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // our state
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // the events queue and its trigger
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // read secret values (Key Vault references)
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // Entra-authenticated telemetry
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // deployer: set and rotate secrets

// The queue role because the webhook hands events to the octopus-events queue and a queue trigger
// processes them (the host reads, updates and deletes messages, and writes octopus-events-poison).
var storageRoles = [
  storageBlobDataOwner
  storageTableDataContributor
  storageQueueDataContributor
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource appStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoles: {
    name: guid(storage.id, appPrincipalId, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appKeyVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appMonitoringRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerKeyVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
