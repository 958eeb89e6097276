// Octopus Coordinator in one resource group: Flex Consumption function app (Node 22), storage used
// only through the app's managed identity, Application Insights on Log Analytics, and an RBAC Key
// Vault holding the three secrets the app reads as Key Vault references.
//
// Deploy with `azd up` (parameters from main.parameters.json and the azd environment), or
// `az deployment group create -g <group> -f infra/main.bicep -p environmentName=... octopusUrl=... mailFrom=...`.
// Deploying needs rights to create role assignments in the group (Owner, or Contributor plus
// Role Based Access Control Administrator).
targetScope = 'resourceGroup'

// ---- Names and placement

@description('Name of the environment (for example prod or test); part of every resource name and tag.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region for every resource; it must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('Extra tags for every resource.')
param tags object = {}

// ---- Octopus and mail

@description('Octopus server URL, for example https://octopus.example.com (no trailing /api).')
@minLength(8)
param octopusUrl string

@description('Octopus space used when the coordination config names none.')
param octopusSpace string = 'Default'

@description('Sender address for emails (a sender verified in SendGrid).')
@minLength(3)
param mailFrom string

@description('HTTP header in which the Octopus subscription sends the webhook shared secret.')
param webhookHeaderName string = 'X-Coordinator-Secret'

// ---- Schedules (Flex Consumption runs timers in UTC; local times are decided in code)

@description('NCRONTAB (six fields, UTC) of the daily report timer. It fires hourly; the report goes out at reportSendTime in reportTimeZone.')
param dailyReportSchedule string = '0 0 * * * *'

@description('NCRONTAB (six fields, UTC) of the status poll timer (every minute by default).')
param statusPollSchedule string = '0 * * * * *'

@description('IANA time zone of the daily report, for example Europe/Berlin.')
param reportTimeZone string = 'UTC'

@description('Local time (HH:MM, in reportTimeZone) at which the daily report is sent.')
param reportSendTime string = '07:00'

@description('A timer slot missed (app stopped, late start) by at most this many minutes still runs.')
@minValue(0)
@maxValue(10080)
param catchUpWindowMinutes int = 60

// ---- Secrets (optional here: they can also be set in the Key Vault after deployment)

@secure()
@description('Octopus API key of a service account. Empty: the Key Vault secret octopus-api-key is left as it is (set it in the vault).')
param octopusApiKey string = ''

@secure()
@description('SendGrid API key with Mail Send permission only. Empty: the secret sendgrid-api-key is left as it is.')
param sendGridApiKey string = ''

@secure()
@description('Webhook shared secret (at least 32 random characters). Empty: the secret webhook-secret is left as it is.')
param webhookSecret string = ''

@secure()
@description('Key that signs approval links (at least 32 random characters). Empty: the secret approval-key is left as it is.')
param approvalKey string = ''

@secure()
@description('Admin key for operator actions such as force-releasing a lock (at least 16 random characters; sent as x-coordinator-admin-key). Empty: the secret coordinator-admin-key is left as it is.')
param coordinatorAdminKey string = ''

@description('Object id of the user or pipeline that deploys; it gets Key Vault Secrets Officer on the vault to set and rotate secrets. azd fills it in; empty for none.')
param deployerPrincipalId string = ''

@description('Kind of principal deployerPrincipalId is.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

// ---- Sizing and retention

@description('Upper bound on function app instances (Flex Consumption accepts 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance in MB. 512 bills a quarter of the GB-seconds of 2048 and is enough for this app (timers and small webhooks); 4096 is for very large reports.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Days to keep logs in Log Analytics (30 are included in the ingestion price).')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Daily log ingestion cap in GB (-1: no cap). Over the cap, logs are dropped until the next day.')
param logDailyQuotaGb int = 1

@description('Email address for the two alerts (a timer job failing repeatedly; webhook 5xx rate). Empty: the alerts show in the portal only.')
param alertEmail string = ''

@description('Tables created up front; the app creates any other table it needs on first use.')
param tableNames array = [
  'locks'
  'runs'
  'events'
  'jobs'
  'watchmail'
]

// ---- Derived names

var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName, location))
var allTags = union(tags, {
  'azd-env-name': environmentName
})
var serviceName = 'coordinator'
var deploymentContainerName = 'app-package-${resourceToken}'
var functionAppName = 'func-${serviceName}-${resourceToken}'

module storage './modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
  }
}

module monitoring './modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
    dailyQuotaGb: logDailyQuotaGb
  }
}

module keyVault './modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: allTags
    octopusApiKey: octopusApiKey
    sendGridApiKey: sendGridApiKey
    webhookSecret: webhookSecret
    approvalKey: approvalKey
    coordinatorAdminKey: coordinatorAdminKey
  }
}

module functionApp './modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: allTags
    serviceName: serviceName
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    nodeVersion: '22'
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

module roles './modules/roles.bicep' = {
  name: 'roles'
  params: {
    appPrincipalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module diagnostics './modules/diagnostics.bicep' = {
  name: 'diagnostics'
  params: {
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    keyVaultName: keyVault.outputs.name
    storageAccountName: storage.outputs.name
  }
}

module alerts './modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: 'alert-${resourceToken}'
    location: location
    tags: allTags
    appInsightsName: monitoring.outputs.appInsightsName
    alertEmail: alertEmail
  }
}

module appSettings './modules/appsettings.bicep' = {
  name: 'appsettings'
  dependsOn: [
    roles
  ]
  params: {
    functionAppName: functionApp.outputs.name
    storageAccountName: storage.outputs.name
    storageQueueEndpoint: storage.outputs.queueEndpoint
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: keyVault.outputs.name
    publicUrl: 'https://${functionApp.outputs.defaultHostName}'
    octopusUrl: octopusUrl
    octopusSpace: octopusSpace
    mailFrom: mailFrom
    webhookHeaderName: webhookHeaderName
    dailyReportSchedule: dailyReportSchedule
    statusPollSchedule: statusPollSchedule
    reportTimeZone: reportTimeZone
    reportSendTime: reportSendTime
    catchUpWindowMinutes: catchUpWindowMinutes
  }
}

// Names and the URL only: never a key, connection string or secret.
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output KEY_VAULT_NAME string = keyVault.outputs.name
