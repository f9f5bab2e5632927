// The function app's user-assigned managed identity. User-assigned (not system-assigned) because
// the roles, the deployment storage and the app settings (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId)
// all need its ids before the function app itself exists.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
