// Two log alerts on the app's Application Insights requests, and (when an address is given) an action
// group that emails them:
// - a timer job (statusPoll, scheduledPromotion, dailyReport) failing repeatedly: 3 or more failed runs of
//   one job within 30 minutes;
// - the Octopus webhook answering 5xx to more than 5% of at least 10 calls within 15 minutes (Octopus then
//   drops the rest of that batch; the status poll catches up, but something is wrong).

@description('Name prefix of the alert rules.')
param namePrefix string

@description('Azure region.')
param location string

@description('Tags for the rules.')
param tags object = {}

@description('Application Insights component the rules query.')
param appInsightsName string

@description('Email address that receives the alerts; empty: the rules fire in the portal only.')
param alertEmail string = ''

@description('Timer functions whose repeated failure raises an alert.')
param timerFunctions array = [
  'statusPoll'
  'scheduledPromotion'
  'dailyReport'
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-ag'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'coordinator'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail)
  ? {}
  : {
      actionGroups: [
        actionGroup.id
      ]
    }

var timerList = join(map(timerFunctions, name => '\'${name}\''), ', ')

resource timerFailing 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-timer-failing'
  location: location
  tags: tags
  properties: {
    displayName: 'Coordinator timer job failing repeatedly'
    description: 'A timer job (${timerList}) failed 3 or more times within 30 minutes. Check its exceptions in Application Insights and /api/health.'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: 'requests | where operation_Name in (${timerList}) and success == false | summarize failures = count() by operation_Name'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failures'
          dimensions: [
            {
              name: 'operation_Name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThanOrEqual'
          threshold: 3
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

resource webhook5xx 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-webhook-5xx'
  location: location
  tags: tags
  properties: {
    displayName: 'Coordinator webhook 5xx rate'
    description: 'The Octopus webhook answered 5xx to more than 5% of at least 10 calls within 15 minutes.'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests | where operation_Name == \'octopusWebhook\' | summarize total = count(), errors = countif(toint(resultCode) >= 500) | where total >= 10 | extend errorPercent = 100.0 * errors / total'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'errorPercent'
          operator: 'GreaterThan'
          threshold: 5
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

output timerAlertName string = timerFailing.name
output webhookAlertName string = webhook5xx.name
