// Lets a principal send telemetry to an Application Insights component whose local auth is off.

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Object (principal) id that gets the role.')
param principalId string

@description('Kind of principal, as Azure RBAC needs it.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string = 'ServicePrincipal'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Monitoring Metrics Publisher: with DisableLocalAuth the ingestion endpoint accepts only Entra ID tokens of principals holding this role.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, '3913510d-42f4-4e42-8a64-420c390055eb')
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
    principalId: principalId
    principalType: principalType
  }
}
