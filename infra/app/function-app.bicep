// The Flex Consumption plan and the function app: Linux, Node, a user-assigned identity for
// everything (storage, deployment package, Azure OpenAI, Application Insights) and the app
// settings src/config.ts reads, with exactly its names. No secrets appear in any setting.

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region.')
param location string

@description('Tags for the plan.')
param tags object

@description('Tags for the function app; they must include azd-service-name so `azd deploy` finds it.')
param appTags object

@description('Node.js major version the app runs on.')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '20'

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the plan scales out to; a ceiling on cost and on parallel calls to Azure OpenAI.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Instances kept warm for the HTTP functions (chat, embeddings, health); 0 means none, and the first request after idle waits for a cold start.')
@minValue(0)
@maxValue(1000)
param alwaysReadyInstances int = 0

@description('Resource id of the subnet (delegated to Microsoft.App/environments) the app sends its outbound traffic through; empty means no virtual network.')
param virtualNetworkSubnetId string = ''

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Blob endpoint of the storage account, e.g. https://ACCOUNT.blob.core.windows.net/.')
param storageBlobEndpoint string

@description('Queue endpoint of the storage account.')
param storageQueueEndpoint string

@description('Table endpoint of the storage account (the host writes its diagnostic events to tables).')
param storageTableEndpoint string

@description('Container that holds the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string (not a secret: ingestion needs an Entra ID token).')
param applicationInsightsConnectionString string

@description('Azure OpenAI endpoint, e.g. https://NAME.openai.azure.com.')
param openAiEndpoint string

@description('Azure OpenAI API style the app uses.')
@allowed([
  'v1'
  'dated'
])
param openAiApiStyle string = 'v1'

@description('api-version for the dated API style.')
param openAiApiVersion string = '2024-10-21'

// Built by main.bicep from its openAiDeployments and the accounts (app/openai-routing.bicep).
@description('Routing table: per model name callers send, its backends ({deployment, endpoint, capabilities, priority, weight}), one per account serving it.')
param openAiRoutingTable object

@description('Chat deployment name; empty when no deployment serves chat.')
param chatDeploymentName string

@description('Embeddings deployment name; empty when no deployment serves embeddings.')
param embeddingsDeploymentName string

@description('Transcription (Whisper) deployment name; empty when no deployment serves transcription.')
param transcriptionDeploymentName string

// Empty means turned off: the app answers 404 model_not_found naming the setting (src/config.ts
// tells present-but-empty from unset, which would mean the default name).
@description('Text-to-speech deployment name; empty when none is deployed (speech turned off).')
param speechDeploymentName string

@description('Image generation deployment name; empty when none is deployed (images turned off).')
param imagesDeploymentName string

@description('Legacy completions deployment name; empty when none is deployed (/api/v1/completions answers 404).')
param completionsDeploymentName string

@description('Container watched for audio.')
param audioContainerName string

@description('Container for transcripts.')
param transcriptsContainerName string

@description('Queue of texts to embed.')
param embeddingsQueueName string

@description('Container for embeddings results.')
param embeddingsContainerName string

@description('Queue of texts to speak.')
param speechQueueName string

@description('Container for spoken audio and its records.')
param speechContainerName string

@description('Queue of image prompts.')
param imagesQueueName string

@description('Container for generated images and their records.')
param imagesContainerName string

@description('Authorization level of the HTTP functions.')
@allowed([
  'function'
  'anonymous'
])
param httpAuthLevel string = 'function'

@description('Largest embeddings batch in tokens (EMBEDDINGS_MAX_TOKENS_PER_REQUEST); at most a minute of the deployment\'s capacity.')
@minValue(1)
param embeddingsMaxTokensPerRequest int = 300000

@description('Chunks of one audio file transcribed at once (TRANSCRIPTION_MAX_CONCURRENCY).')
@minValue(1)
@maxValue(64)
param transcriptionMaxConcurrency int = 4

@description('Extra app settings, applied last (for the tuning settings documented in src/config.ts). Never put secrets here.')
param appSettingOverrides object = {}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // Linux.
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: appTags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Outbound only: Event Grid still reaches the webhook over the public endpoint.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // 'http' is the group of every HTTP-triggered function; the queue and blob functions
        // scale from zero on their events.
        alwaysReady: alwaysReadyInstances > 0
          ? [
              {
                name: 'http'
                instanceCount: alwaysReadyInstances
              }
            ]
          : []
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  // No FTP and no basic-auth publishing: azd deploys with an Entra ID token.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

// Flex Consumption sets the runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_NODE_DEFAULT_VERSION and WEBSITE_RUN_FROM_PACKAGE are
// rejected there, so none of them is set.
var appSettings = {
  // Functions host storage, identity-based: blob (keys, leases, receipts), queue (embeddings,
  // speech, images, poison) and table (the host's diagnostic events).
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId

  // Telemetry, sent with an Entra ID token of the app's identity.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The app's own metrics (tokens, cost, latency, pipeline items: docs/metrics.md) go to the same
  // Application Insights with the identity's Entra ID token; OTLP is for local use.
  METRICS_EXPORT: 'auto' // azure-monitor, since APPLICATIONINSIGHTS_CONNECTION_STRING is set
  METRICS_CONSOLE_INTERVAL_MS: '10000'
  OTEL_EXPORTER_OTLP_ENDPOINT: ''
  // Prices are the operator's (region, agreement, date): set the table with appSettingOverrides (docs/metrics.md).
  AI_PRICES: ''

  // Azure OpenAI through the managed identity; AZURE_OPENAI_API_KEY is deliberately never set.
  AZURE_CLIENT_ID: identityClientId
  AZURE_OPENAI_ENDPOINT: openAiEndpoint
  AZURE_OPENAI_API_STYLE: openAiApiStyle
  AZURE_OPENAI_API_VERSION: openAiApiVersion
  AZURE_OPENAI_CHAT_DEPLOYMENT: chatDeploymentName
  AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT: embeddingsDeploymentName
  AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT: transcriptionDeploymentName
  AZURE_OPENAI_SPEECH_DEPLOYMENT: speechDeploymentName
  AZURE_OPENAI_IMAGES_DEPLOYMENT: imagesDeploymentName
  AZURE_OPENAI_COMPLETIONS_DEPLOYMENT: completionsDeploymentName
  // Every deployment on every account, as JSON: the app routes each model name callers send to these.
  AZURE_OPENAI_DEPLOYMENTS: string(openAiRoutingTable)
  AZURE_OPENAI_TIMEOUT_MS: '60000'
  AZURE_OPENAI_MAX_RETRIES: '2'
  AZURE_OPENAI_CIRCUIT_FAILURES: '3'
  AZURE_OPENAI_CIRCUIT_BREAK_MS: '1000'

  // Pipelines. Flex Consumption cannot scan storage logs, so the audio trigger listens to Event Grid.
  AUDIO_CONTAINER: audioContainerName
  TRANSCRIPTS_CONTAINER: transcriptsContainerName
  AUDIO_BLOB_TRIGGER_SOURCE: 'EventGrid'
  EMBEDDINGS_QUEUE: embeddingsQueueName
  EMBEDDINGS_CONTAINER: embeddingsContainerName
  SPEECH_QUEUE: speechQueueName
  SPEECH_CONTAINER: speechContainerName
  IMAGES_QUEUE: imagesQueueName
  IMAGES_CONTAINER: imagesContainerName
  HTTP_AUTH_LEVEL: httpAuthLevel
  HTTP_MAX_REQUEST_BYTES: '1048576'
  // Keys are made after deployment, so their names come later too: set it with appSettingOverrides or in the portal.
  CALLER_NAMES: ''
  // Per-caller token limits (docs/caller-limits.md): none until set, e.g. with appSettingOverrides.
  CALLER_TOKEN_LIMITS: ''
  // `storage` shares the counts between instances (one blob per caller and day in `caller-limits`).
  CALLER_LIMITS_STORE: 'memory'
  HTTP_MAX_AUDIO_BYTES: '209715200'
  // The host refuses bodies over 100 MB (104857600) before the app sees them: room for the largest
  // audio upload above, plus its multipart framing. (A host setting, not read by the app.)
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '210763776'
  HTTP_STREAM_IDLE_TIMEOUT_MS: '60000'

  // Tuning: the app's defaults (src/config.ts), except the two that must fit the model
  // capacities (main.bicep); change any of them with appSettingOverrides.
  EMBEDDINGS_MAX_INPUTS_PER_REQUEST: '2048'
  EMBEDDINGS_MAX_TOKENS_PER_REQUEST: string(embeddingsMaxTokensPerRequest)
  EMBEDDINGS_MAX_WAIT_MS: '20'
  EMBEDDINGS_CHUNK_TOKENS: '8191'
  EMBEDDINGS_CHUNK_OVERLAP_TOKENS: '0'
  EMBEDDINGS_THROTTLE_BUDGET_MS: '60000'
  TRANSCRIPTION_MAX_CONCURRENCY: string(transcriptionMaxConcurrency)
  TRANSCRIPTION_MAX_CHUNK_BYTES: '25000000'
  TRANSCRIPTION_CLAIM_TTL_MS: '60000'
  TRANSCRIPTION_THROTTLE_BUDGET_MS: '120000'
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, appSettingOverrides)
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output url string = 'https://${functionApp.properties.defaultHostName}'
