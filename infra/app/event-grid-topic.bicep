// Stage 1 of the blob trigger's Event Grid wiring: the system topic that publishes the storage
// account's events. Its system-assigned identity writes dead-lettered events, because the
// account accepts no keys. The subscription itself is stage 2 (blob-event-subscription.bicep).

@description('Name of the system topic.')
param name string

@description('Azure region (the storage account\'s).')
param location string

@description('Tags for the topic.')
param tags object

@description('Name of the storage account whose events are published.')
param storageAccountName string

@description('Container that receives events Event Grid gave up on.')
param deadLetterContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetterContainer 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Storage Blob Data Contributor: lets the topic's identity write dead-lettered events, scoped to the dead-letter container only.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetterContainer.id, systemTopic.id, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: storage::blobService::deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = systemTopic.name
