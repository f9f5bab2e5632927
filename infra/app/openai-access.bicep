// Reads an Azure OpenAI account (created by this template or brought by the user) and grants a
// principal the right to call its models. Deployed into the account's own resource group, which
// may differ from the app's. main.bicep calls it once per account (the first, and the optional
// second one).

@description('Name of the Azure OpenAI account.')
param accountName string

@description('Object (principal) id of the function app\'s identity.')
param appPrincipalId string

@description('Object id of the deploying user, or empty to grant nothing to a user.')
param userPrincipalId string = ''

@description('Kind of the deploying principal.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param userPrincipalType string = 'User'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

// Cognitive Services OpenAI User: call chat, embeddings and audio transcription on the account's deployments, nothing more (no keys, no deployment changes).
resource appOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd')
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Cognitive Services OpenAI User: the same model access for the deploying user, so the app can run locally against this account.
resource userOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(account.id, userPrincipalId, '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd')
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd')
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// The app wants the bare resource endpoint (https://NAME.openai.azure.com), without the trailing slash ARM reports.
var endpoint = account.properties.endpoint
output endpoint string = endsWith(endpoint, '/') ? take(endpoint, length(endpoint) - 1) : endpoint
output id string = account.id
output name string = account.name
