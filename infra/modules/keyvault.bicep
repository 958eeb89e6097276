// Key Vault (RBAC authorization) holding the app's four secrets. A secret is written only when a
// value is given, so a later deployment with an empty value never overwrites a secret that was
// set or rotated directly in the vault.

@description('Key Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the vault.')
param tags object = {}

@secure()
@description('Octopus API key (of a service account). Empty: leave the secret as it is.')
param octopusApiKey string = ''

@secure()
@description('SendGrid API key (Mail Send permission only). Empty: leave the secret as it is.')
param sendGridApiKey string = ''

@secure()
@description('Shared secret that Octopus sends in the webhook header. Empty: leave the secret as it is.')
param webhookSecret string = ''

@secure()
@description('HMAC key that signs approval links (at least 32 random characters). Empty: leave the secret as it is.')
param approvalKey string = ''
@description('Operators\' key for force-releasing locks (x-coordinator-admin-key). Empty: leave the secret as it is.')
param coordinatorAdminKey string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
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
    softDeleteRetentionInDays: 7
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource octopusApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(octopusApiKey)) {
  parent: vault
  name: 'octopus-api-key'
  properties: {
    value: octopusApiKey
    contentType: 'Octopus API key'
  }
}

resource sendGridApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(sendGridApiKey)) {
  parent: vault
  name: 'sendgrid-api-key'
  properties: {
    value: sendGridApiKey
    contentType: 'SendGrid API key'
  }
}

resource webhookSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookSecret)) {
  parent: vault
  name: 'webhook-secret'
  properties: {
    value: webhookSecret
    contentType: 'Octopus webhook shared secret'
  }
}

resource approvalKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(approvalKey)) {
  parent: vault
  name: 'approval-key'
  properties: {
    value: approvalKey
    contentType: 'Approval link signing key'
  }
}

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(coordinatorAdminKey)) {
  parent: vault
  name: 'coordinator-admin-key'
  properties: {
    value: coordinatorAdminKey
    contentType: 'Coordinator admin key (force-release of locks)'
  }
}

output name string = vault.name
