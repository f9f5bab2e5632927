// The operators' workbook: tokens and cost by caller and model, latency, throttling and pipeline
// failures, from the app's metrics in Application Insights. The workbook itself lives in
// monitoring/workbook.json, so it stays readable and a test can check every query in it.

@description('Name of the Application Insights component the workbook reads.')
param applicationInsightsName string

@description('Name shown in the portal\'s list of workbooks.')
param displayName string

@description('Azure region.')
param location string

@description('Tags for the workbook.')
param tags object

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The component's id in lower case, as the portal writes resource ids into the workbooks it saves.
var componentId = toLower(applicationInsights.id)

// The workbook opens on the component wherever it is opened from (a link, a pin, the gallery).
var content = union(loadJsonContent('monitoring/workbook.json'), {
  fallbackResourceIds: [
    componentId
  ]
})

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; this one is stable, so a new provision updates it in place.
  name: guid(applicationInsights.id, 'operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    // Listed under the component's Workbooks blade as well as in the resource group.
    sourceId: componentId
    serializedData: string(content)
  }
}

output id string = workbook.id
