// Log search alerts on the app's metrics in Application Insights: work lost (poisoned messages,
// given-up blobs), a throttled share of requests, failures, and the age of audio blobs waiting
// for transcription. Each query is in monitoring/*.kql, where a test checks it against the metric
// names the app sends. Log search alerts rather than metric alerts: a share needs a division, and
// alerting on custom metric dimensions needs a component setting Bicep cannot turn on.
// The rules need no managed identity: their queries read only their own scope, the component.

@description('Name of the Application Insights component the alerts query.')
param applicationInsightsName string

@description('Prefix of the alert rule names.')
param ruleNamePrefix string

@description('Name of the action group created when alertEmail is given.')
param actionGroupName string

@description('Azure region.')
param location string

@description('Tags for the alert rules and the action group.')
param tags object

@description('Resource id of an existing action group every alert notifies; empty for none.')
param actionGroupId string = ''

@description('Email address of an action group created here that every alert notifies; empty creates none.')
param alertEmail string = ''

@description('Throttled requests, as a percentage of all requests in 15 minutes, above which an alert fires.')
@minValue(1)
@maxValue(100)
param throttledPercentThreshold int = 10

@description('Failed requests and rejected pipeline items in 15 minutes above which an alert fires.')
@minValue(0)
param failuresThreshold int = 5

@description('Minutes an audio blob may wait before transcription starts; older, and an alert fires.')
@minValue(1)
param transcriptionQueueAgeMinutes int = 15

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource emailGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  // Action groups are global resources.
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'aoai-alerts'
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

// With neither an action group nor an email the rules are still created: fired alerts show in
// the portal (Monitor > Alerts), and an action group can be attached later.
var actionGroups = concat(empty(actionGroupId) ? [] : [actionGroupId], empty(alertEmail) ? [] : [emailGroup.id])

var rules = [
  {
    name: 'lost-work'
    displayName: 'Work lost: poisoned messages or given-up blobs'
    description: 'A pipeline moved a queue message to its poison queue or gave up on an audio blob (pipeline.items with outcome poisoned or given_up). One alert per pipeline.'
    severity: 1
    // Every 5 minutes over the last 10, so a point that reaches the logs late is still seen.
    windowSize: 'PT10M'
    query: loadTextContent('monitoring/lost-work.kql')
    measure: 'lostItems'
    aggregation: 'Total'
    threshold: 0
    dimensions: [
      'pipeline'
    ]
  }
  {
    name: 'throttled-share'
    displayName: 'Requests throttled above ${throttledPercentThreshold} %'
    description: 'More than ${throttledPercentThreshold} % of at least 20 requests in 15 minutes ended throttled (aoai.requests with outcome throttled): the deployments\' capacity is too small for the load.'
    severity: 2
    windowSize: 'PT15M'
    query: loadTextContent('monitoring/throttled-share.kql')
    measure: 'throttledPercent'
    aggregation: 'Maximum'
    threshold: throttledPercentThreshold
    dimensions: []
  }
  {
    name: 'failures'
    displayName: 'More than ${failuresThreshold} failures in 15 minutes'
    description: 'Requests that ended upstream_permanent, transient or configuration, and pipeline items rejected, numbered more than ${failuresThreshold} in 15 minutes.'
    severity: 2
    windowSize: 'PT15M'
    query: loadTextContent('monitoring/failures.kql')
    measure: 'failures'
    aggregation: 'Total'
    threshold: failuresThreshold
    dimensions: []
  }
  {
    name: 'transcription-queue-age'
    displayName: 'Audio waited more than ${transcriptionQueueAgeMinutes} minutes for transcription'
    description: 'The transcription pipeline picked up an audio blob more than ${transcriptionQueueAgeMinutes} minutes after its upload (pipeline.queue_age of pipeline transcription): it is falling behind.'
    severity: 2
    windowSize: 'PT15M'
    query: loadTextContent('monitoring/transcription-queue-age.kql')
    measure: 'oldestMinutes'
    aggregation: 'Maximum'
    threshold: transcriptionQueueAgeMinutes
    dimensions: []
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: '${ruleNamePrefix}-${rule.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: rule.windowSize
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: rule.aggregation
          metricMeasureColumn: rule.measure
          operator: 'GreaterThan'
          threshold: rule.threshold
          dimensions: [for dimension in rule.dimensions: {
            name: dimension
            operator: 'Include'
            values: [
              '*'
            ]
          }]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // Resolved by itself once the condition clears, so an alert stays one alert while it lasts.
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}]

output ruleNames array = [for (rule, i) in rules: alerts[i].name]
output emailActionGroupId string = empty(alertEmail) ? '' : emailGroup.id
