// A new Azure OpenAI account and the model deployments the app calls (main.bicep's
// openAiDeployments, by default chat, embeddings and Whisper, and those of speech, images and
// completions that it turns on). main.bicep calls it for the primary account (skipped when the
// environment points at an existing account) and for the optional secondary one.

import { openAiDeployment } from 'openai-routing.bicep'

@description('Name of the account; also its custom subdomain, so the endpoint is https://NAME.openai.azure.com.')
param name string

@description('Azure region; it must offer every enabled model below.')
param location string

@description('Tags for the account.')
param tags object

@description('Keep API keys off so only Entra ID tokens are accepted.')
param disableLocalAuth bool = true

@description('Whether the account is reachable from public networks.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Model deployments to create, one at a time (their routing fields are not used here).')
param deployments openAiDeployment[]

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: disableLocalAuth
    publicNetworkAccess: publicNetworkAccess
    // With public access off, only private endpoints reach the account.
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
  }
}

// One at a time: the Cognitive Services resource provider rejects concurrent deployment
// changes on one account with a conflict.
@batchSize(1)
resource modelDeployments 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = [for deployment in deployments: {
  parent: account
  name: deployment.name
  sku: {
    name: deployment.skuName
    capacity: deployment.capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: deployment.modelName
      version: deployment.modelVersion
    }
    versionUpgradeOption: 'OnceNewDefaultVersionAvailable'
  }
}]

output name string = account.name
output endpoint string = account.properties.endpoint
