// The function app's settings: the complete list (this resource replaces every app setting).
// Secrets are Key Vault references (versionless, so a rotated secret is picked up); everything else
// is plain configuration. Names match shared/config/settings.ts.

@description('Function app to configure.')
param functionAppName string

@description('Storage account used through the app identity (AzureWebJobsStorage__accountName).')
param storageAccountName string

@description('Queue service endpoint of that account (the events queue and its trigger, through the app identity).')
param storageQueueEndpoint string

@description('Application Insights component; its connection string is read here, never passed around.')
param appInsightsName string

@description('Key Vault holding octopus-api-key, sendgrid-api-key, webhook-secret, approval-key and coordinator-admin-key.')
param keyVaultName string

@description('Public base URL of the app, used for links in emails.')
param publicUrl string

@description('Octopus server URL.')
param octopusUrl string

@description('Octopus space used when the coordination config names none.')
param octopusSpace string

@description('Sender address for emails.')
param mailFrom string

@description('Header in which Octopus sends the webhook shared secret.')
param webhookHeaderName string

@description('NCRONTAB schedule (UTC) of the daily report timer.')
param dailyReportSchedule string

@description('NCRONTAB schedule (UTC) of the status poll timer.')
param statusPollSchedule string

@description('IANA time zone of the daily report.')
param reportTimeZone string

@description('Local send time (HH:MM) of the daily report.')
param reportSendTime string

@description('Minutes within which a missed timer slot is still run.')
param catchUpWindowMinutes int

resource site 'Microsoft.Web/sites@2023-12-01' existing = {
  name: functionAppName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource appSettings 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
    OCTOPUS_URL: octopusUrl
    OCTOPUS_SPACE: octopusSpace
    OCTOPUS_API_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=octopus-api-key)'
    WEBHOOK_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=webhook-secret)'
    WEBHOOK_SECRET_HEADER: webhookHeaderName
    COORDINATOR_ADMIN_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=coordinator-admin-key)'
    SENDGRID_API_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=sendgrid-api-key)'
    COORDINATOR_APPROVAL_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=approval-key)'
    MAIL_FROM: mailFrom
    DAILY_REPORT_SCHEDULE: dailyReportSchedule
    STATUS_POLL_SCHEDULE: statusPollSchedule
    REPORT_TIME_ZONE: reportTimeZone
    REPORT_SEND_TIME: reportSendTime
    CATCH_UP_WINDOW_MINUTES: string(catchUpWindowMinutes)
    PUBLIC_URL: publicUrl
  }
}
