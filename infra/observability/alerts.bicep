// Alert rules for taskfleet, as log search alerts on the Application Insights resource. Each rule's query is
// the KQL file of the same name in ./kql (loaded at deployment, so the query text lives once).
//   az deployment group create -g <rg> -f infra/observability/alerts.bicep \
//     -p appInsightsId=<resource id> actionGroupId=<action group id>

@description('Resource id of the workspace-based Application Insights component the fleet reports to.')
param appInsightsId string

@description('Action group notified when a rule fires (optional).')
param actionGroupId string = ''

param location string = resourceGroup().location

var rules = [
  {
    name: 'taskfleet-no-heartbeat'
    description: 'No worker has heartbeated for 60 s (or none reports).'
    query: loadTextContent('kql/alert-no-heartbeat.kql')
    severity: 1
  }
  {
    name: 'taskfleet-backlog-age'
    description: 'A route\'s oldest due task has waited more than 5 minutes.'
    query: loadTextContent('kql/alert-backlog-age.kql')
    severity: 2
  }
  {
    name: 'taskfleet-error-rate'
    description: 'More than 10 % of finished attempts failed over 15 minutes.'
    query: loadTextContent('kql/alert-error-rate.kql')
    severity: 2
  }
  {
    name: 'taskfleet-dead-tasks'
    description: 'A task went dead (retries exhausted) in the last 15 minutes.'
    query: loadTextContent('kql/alert-dead-tasks.kql')
    severity: 3
  }
  {
    name: 'taskfleet-agent-stalled'
    description: 'An agent stayed idle beside tasks it covers after it was asked to reconnect to Redis (degraded).'
    query: loadTextContent('kql/alert-agent-stalled.kql')
    severity: 2
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for rule in rules: {
  name: rule.name
  location: location
  properties: {
    displayName: rule.name
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [ appInsightsId ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(actionGroupId) ? [] : [ actionGroupId ] }
  }
}]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'taskfleet-workbook')
  location: location
  kind: 'shared'
  properties: {
    displayName: 'taskfleet'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: loadTextContent('workbook.json')
  }
}
