// The data roles a principal needs on the storage account to run the app: the function app's
// identity in Azure, and optionally the deploying user so the app can run locally against the cloud.

@description('Name of the storage account.')
param storageAccountName string

@description('Object (principal) id that gets the roles.')
param principalId string

@description('Kind of principal, as Azure RBAC needs it.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string = 'ServicePrincipal'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// Storage Blob Data Owner: the Functions host keeps keys, leases and blob receipts in blobs, the app writes transcripts, embeddings, speech audio and images, and the Flex deployment package is read with this identity; Owner (not Contributor) is what the host documents for AzureWebJobsStorage.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
    principalId: principalId
    principalType: principalType
  }
}

// Storage Queue Data Contributor: the embeddings, speech and images queue triggers read and delete messages, the HTTP routes enqueue to them, the host moves failed ones to the poison queues, and transcriptionGivenUp reads webjobs-blobtrigger-poison.
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
    principalId: principalId
    principalType: principalType
  }
}

// Storage Table Data Contributor: the Functions host writes its diagnostic events to a table in AzureWebJobsStorage (AzureWebJobsStorage__tableServiceUri); the app itself uses no tables.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: principalId
    principalType: principalType
  }
}
