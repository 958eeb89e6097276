// Log Analytics workspace and workspace-based Application Insights. Local (instrumentation key)
// authentication is off: the app sends telemetry with its managed identity
// (Monitoring Metrics Publisher role, APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD).

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param appInsightsName string

@description('Azure region.')
param location string

@description('Tags for the resources.')
param tags object = {}

@description('Days to keep logs (30 is included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int

@description('Daily ingestion cap in GB; -1 for no cap. Logs over the cap are dropped until the next day.')
param dailyQuotaGb int

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// Only the name: the connection string is read where it is needed (appsettings.bicep), never output.
output appInsightsName string = appInsights.name
output logAnalyticsName string = logAnalytics.name
