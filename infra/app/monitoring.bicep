// Log Analytics and workspace-based Application Insights. Local (instrumentation key) ingestion is
// off: telemetry is accepted only with an Entra ID token, which the app sends because
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING names its managed identity.

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Tags for the monitoring resources.')
param tags object

@description('Days Log Analytics keeps data (30 days are included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Entra ID ingestion only: no instrumentation-key ingestion.
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = applicationInsights.name
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsName string = logAnalytics.name
