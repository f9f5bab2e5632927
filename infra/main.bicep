// Everything the app needs in Azure, deployable with `azd up`: a resource group, Azure OpenAI with
// the chat, embeddings and Whisper deployments, and optionally text to speech, images and legacy
// completions (or an existing account, and optionally a second account in another region), the
// routing table of those deployments, keyless storage, a Flex
// Consumption function app with a user-assigned identity, monitoring with Entra ID ingestion,
// least-privilege roles and the Event Grid wiring of the audio blob trigger. See infra/README.md.
targetScope = 'subscription'

import { openAiDeployment, firstServing, routingTable } from 'app/openai-routing.bicep'

@minLength(1)
@maxLength(64)
@description('azd environment name; it names the resource group and seeds every resource name.')
param environmentName string

// The regions that offer Flex Consumption, per ARM's own list (test/infra/data/flex-consumption-regions.json
// says where it comes from and when; a test keeps this list equal to it). `az functionapp
// list-flexconsumption-locations` shows today's.
@description('Region of the resource group, storage, monitoring, network and function app: one that offers Flex Consumption.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'canadaeast'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'francesouth'
  'germanywestcentral'
  'indonesiacentral'
  'israelcentral'
  'italynorth'
  'japaneast'
  'japanwest'
  'koreacentral'
  'malaysiawest'
  'mexicocentral'
  'newzealandnorth'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'polandcentral'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'switzerlandnorth'
  'switzerlandwest'
  'taiwannorth'
  'taiwannorthwest'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

// Exactly the regions where every default deployment below (gpt-4o-mini 2024-07-18 GlobalStandard,
// text-embedding-3-small 1 GlobalStandard, whisper 001 Standard) is offered, per Microsoft's model
// tables; Whisper is the narrowest. test/infra/data/azure-openai-model-availability.json holds
// those tables and a test keeps this list equal to what they allow.
@description('Region of a new Azure OpenAI account: one that offers every default model (Whisper is offered in the fewest). Ignored with an existing account.')
@allowed([
  'eastus2'
  'northcentralus'
  'norwayeast'
  'southindia'
  'swedencentral'
  'switzerlandnorth'
  'uaenorth'
  'westeurope'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param openAiLocation string

@description('Object id of the principal that gets the same data roles as the app, so the app can run locally against the cloud: the deploying user or service principal by default (azd passes AZURE_PRINCIPAL_ID). Empty grants nothing.')
param principalId string = deployer().objectId

@description('Kind of principalId: User for a person, ServicePrincipal for a CI pipeline running azd.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

// ---- Network ----

@description('Put the app behind a virtual network: Flex Consumption VNet integration, private endpoints for storage (blob, queue, table) and Azure OpenAI, and both closed to public callers. See infra/README.md for what changes.')
param vnetEnabled bool = false

// ---- Azure OpenAI ----

@description('Name of an existing Azure OpenAI account to use instead of creating one (same subscription). Its deployments must already exist with the names below (openAiDeployments).')
param existingOpenAiAccountName string = ''

@description('Resource group of the existing Azure OpenAI account; empty means the app\'s resource group.')
param existingOpenAiResourceGroupName string = ''

@description('Keep API keys off on a new account so only Entra ID tokens are accepted.')
param openAiDisableLocalAuth bool = true

@description('Public network access of a new account; vnetEnabled turns it off whatever this says.')
@allowed([
  'Enabled'
  'Disabled'
])
param openAiPublicNetworkAccess string = 'Enabled'

@description('Chat deployment name (AZURE_OPENAI_CHAT_DEPLOYMENT).')
param chatDeploymentName string = 'gpt-4o-mini'

@description('Chat model version.')
param chatModelVersion string = '2024-07-18'

@description('Chat deployment SKU.')
param chatDeploymentSku string = 'GlobalStandard'

@description('Chat capacity in thousands of tokens per minute.')
@minValue(1)
param chatDeploymentCapacity int = 30

@description('Embeddings deployment name (AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT).')
param embeddingsDeploymentName string = 'text-embedding-3-small'

@description('Embeddings model version.')
param embeddingsModelVersion string = '1'

@description('Embeddings deployment SKU.')
param embeddingsDeploymentSku string = 'GlobalStandard'

@description('Embeddings capacity in thousands of tokens per minute.')
@minValue(1)
param embeddingsDeploymentCapacity int = 30

@description('Transcription deployment name (AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT).')
param transcriptionDeploymentName string = 'whisper'

@description('Whisper model version.')
param transcriptionModelVersion string = '001'

@description('Whisper deployment SKU.')
param transcriptionDeploymentSku string = 'Standard'

@description('Whisper capacity in quota units. Microsoft documents a default Whisper quota of 3 requests per minute per region but not the unit; the quota counter is reported to show 3 units, so the default takes all of it. Raise it, and transcriptionMaxConcurrency with it, once your quota is raised.')
@minValue(1)
param transcriptionDeploymentCapacity int = 3

// The three below are off by default: each is offered in few of the regions openAiLocation allows
// (test/infra/data/azure-openai-model-availability.json), so turning one on by default would
// shrink that list to almost nothing. Each description names the regions Microsoft's tables offer
// it in (a test keeps them equal to the data); pick openAiLocation among them before turning it on.
// Off, the deployment is not created and its app setting is empty: the app answers 404
// model_not_found naming the setting. With an existing account the names are used as given
// (empty one to turn that feature off).

@description('Deploy the text-to-speech model (gpt-4o-mini-tts). Offered, per Microsoft\'s tables, only in: eastus2 (GlobalStandard); of those, openAiLocation allows eastus2.')
param speechDeploymentEnabled bool = false

@description('Text-to-speech deployment name (AZURE_OPENAI_SPEECH_DEPLOYMENT).')
param speechDeploymentName string = 'gpt-4o-mini-tts'

@description('gpt-4o-mini-tts model version.')
param speechModelVersion string = '2025-12-15'

@description('Text-to-speech deployment SKU.')
param speechDeploymentSku string = 'GlobalStandard'

@description('Text-to-speech capacity in quota units. Microsoft publishes no default quota for gpt-4o-mini-tts; 1 is the least that deploys.')
@minValue(1)
param speechDeploymentCapacity int = 1

@description('Deploy the image model (gpt-image-1). It is a limited-access model: the subscription must be approved for it first (Microsoft\'s registration form), or the deployment fails. Offered, per Microsoft\'s tables, only in: eastus2, polandcentral, swedencentral, uaenorth, westus3 (GlobalStandard); of those, openAiLocation allows eastus2, swedencentral, uaenorth.')
param imagesDeploymentEnabled bool = false

@description('Image generation deployment name (AZURE_OPENAI_IMAGES_DEPLOYMENT).')
param imagesDeploymentName string = 'gpt-image-1'

@description('gpt-image-1 model version.')
param imagesModelVersion string = '2025-04-15'

@description('Image generation deployment SKU.')
param imagesDeploymentSku string = 'GlobalStandard'

@description('Image generation capacity in quota units. Microsoft\'s tier-1 quota for gpt-image-1 GlobalStandard is 9 requests per minute.')
@minValue(1)
param imagesDeploymentCapacity int = 1

@description('Deploy the legacy completions model (gpt-35-turbo-instruct, /api/v1/completions). Offered, per Microsoft\'s last completions table (February 2025), only in: eastus, swedencentral (Standard); of those, openAiLocation allows swedencentral. Newer tables no longer list it.')
param completionsDeploymentEnabled bool = false

@description('Legacy completions deployment name (AZURE_OPENAI_COMPLETIONS_DEPLOYMENT).')
param completionsDeploymentName string = 'gpt-35-turbo-instruct'

@description('gpt-35-turbo-instruct model version.')
param completionsModelVersion string = '0914'

@description('Legacy completions deployment SKU.')
param completionsDeploymentSku string = 'Standard'

@description('Legacy completions capacity in thousands of tokens per minute.')
@minValue(1)
param completionsDeploymentCapacity int = 10

// The deployments, as one list: what each account gets, and what the routing table
// (AZURE_OPENAI_DEPLOYMENTS) and the per-capability settings are built from. The default is
// built from the chat, embeddings and transcription parameters above, so their azd variables keep
// working; give the whole list to deploy other models, several of one kind, or aliases (the
// parameters above are then not used). The speech, images and completions switches append their
// deployment to it, whatever it is. Each AZURE_OPENAI_*_DEPLOYMENT setting names the first
// deployment serving that capability, or is empty when none does.
@description('Model deployments on every account: name, alias (model name callers send; absent = the name), catalog model, version, SKU, capacity, capabilities (chat, responses, embeddings, transcription, speech, images, completions) and optional routing priority and weight. Default: the chat, embeddings and Whisper deployments of the parameters above.')
@minLength(1)
param openAiDeployments openAiDeployment[] = [
  {
    name: chatDeploymentName
    modelName: 'gpt-4o-mini'
    modelVersion: chatModelVersion
    skuName: chatDeploymentSku
    capacity: chatDeploymentCapacity
    capabilities: [
      'chat'
      'responses'
    ]
  }
  {
    name: embeddingsDeploymentName
    modelName: 'text-embedding-3-small'
    modelVersion: embeddingsModelVersion
    skuName: embeddingsDeploymentSku
    capacity: embeddingsDeploymentCapacity
    capabilities: [
      'embeddings'
    ]
  }
  {
    name: transcriptionDeploymentName
    modelName: 'whisper'
    modelVersion: transcriptionModelVersion
    skuName: transcriptionDeploymentSku
    capacity: transcriptionDeploymentCapacity
    capabilities: [
      'transcription'
    ]
  }
]

// A second account spreads the load (and the per-region quota) over two regions, or takes what the
// first cannot. Same deployments, same names, same roles and network rules as a new first account.
// Its regions are openAiLocation's (a test keeps the lists equal), plus '' for none.
@description('Region of a second Azure OpenAI account with the same deployments (names included), which the app also calls; empty means none. Works beside a new or an existing first account. Pick a region other than the first account\'s: quota is per region.')
@allowed([
  ''
  'eastus2'
  'northcentralus'
  'norwayeast'
  'southindia'
  'swedencentral'
  'switzerlandnorth'
  'uaenorth'
  'westeurope'
])
param secondaryOpenAiLocation string = ''

@description('How the app uses the second account: spread (its backends get the same priority as the first account\'s, so load is shared) or spillover (priority + 1: called only when the first account\'s backends are throttled or down).')
@allowed([
  'spread'
  'spillover'
])
param secondaryOpenAiRole string = 'spread'

// ---- Function app ----

@description('Node.js major version.')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '20'

@description('Memory of each Flex Consumption instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to: a ceiling on cost and on parallel calls to Azure OpenAI.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Instances kept warm for the HTTP functions, so a chat after idle does not wait for a cold start; each is billed while idle. 0 means none.')
@minValue(0)
@maxValue(1000)
param alwaysReadyInstances int = 0

@description('Chunks of one audio file sent to Whisper at once, per blob (TRANSCRIPTION_MAX_CONCURRENCY). Whisper\'s default quota is 3 requests per minute, so the default is 1; raise it with the transcription capacity.')
@minValue(1)
@maxValue(64)
param transcriptionMaxConcurrency int = 1

@description('Authorization level of the HTTP functions (HTTP_AUTH_LEVEL).')
@allowed([
  'function'
  'anonymous'
])
param httpAuthLevel string = 'function'

@description('Extra app settings applied last, e.g. {"TRANSCRIPTION_MAX_CONCURRENCY": "2"}. Never put secrets here.')
param appSettingOverrides object = {}

@description('Stage 2: create the Event Grid subscription of the audio blob trigger. The postdeploy hook sets it once the code is deployed (see app/blob-event-subscription.bicep).')
param blobEventSubscriptionEnabled bool = false

// ---- Monitoring: the operators' workbook and alerts (see docs/monitoring.md) ----

@description('Create the log search alerts (work lost, throttled share, failures, transcription backlog). Each rule is billed monthly; the workbook is created either way.')
param alertsEnabled bool = true

@description('Resource id of an existing action group the alerts notify. Empty: none (fired alerts still show in the portal).')
param alertActionGroupId string = ''

@description('Email address the alerts notify, through an action group created for it. Empty: none is created.')
param alertEmail string = ''

@description('Alert when more than this percentage of the requests in 15 minutes (at least 20) end throttled.')
@minValue(1)
@maxValue(100)
param alertThrottledPercent int = 10

@description('Alert when more than this many requests fail (upstream_permanent, transient, configuration) or pipeline items are rejected in 15 minutes.')
@minValue(0)
param alertFailuresThreshold int = 5

@description('Alert when an audio blob waited more than this many minutes before transcription started.')
@minValue(1)
param alertTranscriptionQueueMinutes int = 15

// ---- Names ----

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
// azd deploys the service named `api` in azure.yaml to the resource with this tag.
var serviceName = 'api'

// The app's names; each equals the default in src/config.ts, so local runs and Azure agree.
var audioContainerName = 'audio'
var transcriptsContainerName = 'transcripts'
var embeddingsContainerName = 'embeddings'
var embeddingsQueueName = 'embeddings'
var speechContainerName = 'speech'
var speechQueueName = 'speech'
var imagesContainerName = 'images'
var imagesQueueName = 'images'
var deploymentContainerName = 'deployment-package'
var deadLetterContainerName = 'eventgrid-deadletter'
// The per-caller token counts' container, fixed in the app (src/caller-limits/blob-counter-store.ts).
var callerLimitsContainerName = 'caller-limits'

var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var useExistingOpenAi = !empty(existingOpenAiAccountName)
var openAiAccountName = useExistingOpenAi ? existingOpenAiAccountName : '${abbrs.cognitiveServicesAccounts}${resourceToken}'
var useSecondaryOpenAi = !empty(secondaryOpenAiLocation)
// Named after its region: moving it to another region makes a new account instead of failing.
var secondaryOpenAiAccountName = '${abbrs.cognitiveServicesAccounts}${resourceToken}-${secondaryOpenAiLocation}'

// The optional models, each with its switch (off by default, see above).
var optionalOpenAiDeployments = [
  {
    enabled: speechDeploymentEnabled
    deployment: {
      name: speechDeploymentName
      modelName: 'gpt-4o-mini-tts'
      modelVersion: speechModelVersion
      skuName: speechDeploymentSku
      capacity: speechDeploymentCapacity
      capabilities: [
        'speech'
      ]
    }
  }
  {
    enabled: imagesDeploymentEnabled
    deployment: {
      name: imagesDeploymentName
      modelName: 'gpt-image-1'
      modelVersion: imagesModelVersion
      skuName: imagesDeploymentSku
      capacity: imagesDeploymentCapacity
      capabilities: [
        'images'
      ]
    }
  }
  {
    enabled: completionsDeploymentEnabled
    deployment: {
      name: completionsDeploymentName
      modelName: 'gpt-35-turbo-instruct'
      modelVersion: completionsModelVersion
      skuName: completionsDeploymentSku
      capacity: completionsDeploymentCapacity
      capabilities: [
        'completions'
      ]
    }
  }
]
// What a new account (the first, or the second) gets: the list and each optional model switched on.
var createdOpenAiDeployments = concat(openAiDeployments, map(filter(optionalOpenAiDeployments, o => o.enabled), o => o.deployment))
// What the first account serves. An existing account's optional deployments are taken as named,
// switches or not (an empty name: the account lacks that model).
var primaryOpenAiDeployments = useExistingOpenAi
  ? concat(openAiDeployments, map(filter(optionalOpenAiDeployments, o => !empty(o.deployment.name)), o => o.deployment))
  : createdOpenAiDeployments

// What the app is told per capability: the first deployment of the first account serving it, or
// empty when none does (for speech and images the app reads empty as turned off).
var chatSettingValue = firstServing(primaryOpenAiDeployments, 'chat')
var embeddingsSettingValue = firstServing(primaryOpenAiDeployments, 'embeddings')
var transcriptionSettingValue = firstServing(primaryOpenAiDeployments, 'transcription')
var speechSettingValue = firstServing(primaryOpenAiDeployments, 'speech')
var imagesSettingValue = firstServing(primaryOpenAiDeployments, 'images')
var completionsSettingValue = firstServing(primaryOpenAiDeployments, 'completions')
// Azure refuses, every time, a request with more tokens than the deployment's per-minute limit:
// a batch must never be larger than a minute of the (first) embeddings deployment's capacity
// (thousands of TPM). With no embeddings deployment, the app's default.
var embeddingsCapacity = first(concat(
  map(filter(primaryOpenAiDeployments, d => contains(d.capabilities, 'embeddings')), d => d.capacity),
  [
    300
  ]
))
var embeddingsMaxTokensPerRequest = min(300000, embeddingsCapacity * 1000)
var openAiResourceGroupName = useExistingOpenAi && !empty(existingOpenAiResourceGroupName) ? existingOpenAiResourceGroupName : rg.name

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    containerNames: [
      audioContainerName
      transcriptsContainerName
      embeddingsContainerName
      speechContainerName
      imagesContainerName
      deploymentContainerName
      deadLetterContainerName
      // Per-caller token counts shared by every instance (CALLER_LIMITS_STORE=storage); the app also creates it on first use.
      callerLimitsContainerName
    ]
    // A day's counts are never written again once the UTC day ends: deleted two days later.
    expiringBlobPrefixes: ['${callerLimitsContainerName}/']
    queueNames: [
      embeddingsQueueName
      speechQueueName
      imagesQueueName
    ]
    privateNetworkOnly: vnetEnabled
  }
}

module openAi 'app/openai.bicep' = if (!useExistingOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    name: openAiAccountName
    location: openAiLocation
    tags: tags
    disableLocalAuth: openAiDisableLocalAuth
    publicNetworkAccess: vnetEnabled ? 'Disabled' : openAiPublicNetworkAccess
    deployments: createdOpenAiDeployments
  }
}

// Works for both a new and an existing account: reads its endpoint and grants the model role.
module openAiAccess 'app/openai-access.bicep' = {
  name: 'openai-access'
  scope: resourceGroup(openAiResourceGroupName)
  dependsOn: [
    openAi
  ]
  params: {
    accountName: openAiAccountName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

// The second account: same module, same deployments, keys and network rules as a new first account.
module openAiSecondary 'app/openai.bicep' = if (useSecondaryOpenAi) {
  name: 'openai-secondary'
  scope: rg
  params: {
    name: secondaryOpenAiAccountName
    location: secondaryOpenAiLocation
    tags: tags
    disableLocalAuth: openAiDisableLocalAuth
    publicNetworkAccess: vnetEnabled ? 'Disabled' : openAiPublicNetworkAccess
    deployments: createdOpenAiDeployments
  }
}

// The same model role on the second account, for the app and the deploying user.
module openAiSecondaryAccess 'app/openai-access.bicep' = if (useSecondaryOpenAi) {
  name: 'openai-secondary-access'
  scope: rg
  dependsOn: [
    openAiSecondary
  ]
  params: {
    accountName: secondaryOpenAiAccountName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

// The routing table (AZURE_OPENAI_DEPLOYMENTS): the first account's backends, then the second's,
// at the same priority (spread) or one lower (spillover).
var openAiRoutingAccounts = concat(
  [
    {
      endpoint: openAiAccess.outputs.endpoint
      priorityOffset: 0
      deployments: primaryOpenAiDeployments
    }
  ],
  useSecondaryOpenAi
    ? [
        {
          endpoint: openAiSecondaryAccess!.outputs.endpoint
          priorityOffset: secondaryOpenAiRole == 'spillover' ? 1 : 0
          deployments: createdOpenAiDeployments
        }
      ]
    : []
)

module appStorageAccess 'app/storage-access.bicep' = {
  name: 'storage-access-app'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

module userStorageAccess 'app/storage-access.bicep' = if (!empty(principalId)) {
  name: 'storage-access-user'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    principalId: principalId
    principalType: principalType
  }
}

module monitoringWorkbook 'app/monitoring-workbook.bicep' = {
  name: 'monitoring-workbook'
  scope: rg
  params: {
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    displayName: 'Azure OpenAI Functions operations (${environmentName})'
    location: location
    tags: tags
  }
}

module monitoringAlerts 'app/monitoring-alerts.bicep' = if (alertsEnabled) {
  name: 'monitoring-alerts'
  scope: rg
  params: {
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    ruleNamePrefix: '${abbrs.insightsScheduledQueryRules}${resourceToken}'
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    location: location
    tags: tags
    actionGroupId: alertActionGroupId
    alertEmail: alertEmail
    throttledPercentThreshold: alertThrottledPercent
    failuresThreshold: alertFailuresThreshold
    transcriptionQueueAgeMinutes: alertTranscriptionQueueMinutes
  }
}

module appMonitoringAccess 'app/monitoring-access.bicep' = {
  name: 'monitoring-access-app'
  scope: rg
  params: {
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Private network (vnetEnabled) ----

module network 'app/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
  }
}

// The host reaches blob, queue and table storage through these; Event Grid's dead letters still
// arrive as a trusted service (see storage.bicep).
module storagePrivateEndpoints 'app/private-endpoint.bicep' = [for service in ['blob', 'queue', 'table']: if (vnetEnabled) {
  name: 'private-endpoint-storage-${service}'
  scope: rg
  params: {
    name: '${abbrs.networkPrivateEndpoints}${service}-${resourceToken}'
    location: location
    tags: tags
    subnetId: network!.outputs.privateEndpointSubnetId
    targetResourceId: storage.outputs.id
    groupId: service
    privateDnsZoneId: network!.outputs.privateDnsZoneIds[service]
  }
}]

// A new account or an existing one: either way the app calls it through the network. An existing
// account in another resource group may need its owner to approve the connection.
module openAiPrivateEndpoint 'app/private-endpoint.bicep' = if (vnetEnabled) {
  name: 'private-endpoint-openai'
  scope: rg
  params: {
    name: '${abbrs.networkPrivateEndpoints}openai-${resourceToken}'
    location: location
    tags: tags
    subnetId: network!.outputs.privateEndpointSubnetId
    targetResourceId: openAiAccess.outputs.id
    groupId: 'account'
    privateDnsZoneId: network!.outputs.privateDnsZoneIds.openai
  }
}

// The same for the second account, in the same network and DNS zone.
module openAiSecondaryPrivateEndpoint 'app/private-endpoint.bicep' = if (vnetEnabled && useSecondaryOpenAi) {
  name: 'private-endpoint-openai-secondary'
  scope: rg
  params: {
    name: '${abbrs.networkPrivateEndpoints}openai-${secondaryOpenAiLocation}-${resourceToken}'
    location: location
    tags: tags
    subnetId: network!.outputs.privateEndpointSubnetId
    targetResourceId: openAiSecondaryAccess!.outputs.id
    groupId: 'account'
    privateDnsZoneId: network!.outputs.privateDnsZoneIds.openai
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  // The host starts as soon as the app exists: give it its storage roles, and with a network the
  // private endpoints it reaches storage through, first.
  dependsOn: [
    appStorageAccess
    storagePrivateEndpoints
  ]
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    appTags: union(tags, {
      'azd-service-name': serviceName
    })
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyInstances: alwaysReadyInstances
    virtualNetworkSubnetId: vnetEnabled ? network!.outputs.appSubnetId : ''
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    openAiEndpoint: openAiAccess.outputs.endpoint
    openAiRoutingTable: routingTable(openAiRoutingAccounts)
    chatDeploymentName: chatSettingValue
    embeddingsDeploymentName: embeddingsSettingValue
    transcriptionDeploymentName: transcriptionSettingValue
    speechDeploymentName: speechSettingValue
    imagesDeploymentName: imagesSettingValue
    completionsDeploymentName: completionsSettingValue
    audioContainerName: audioContainerName
    transcriptsContainerName: transcriptsContainerName
    embeddingsQueueName: embeddingsQueueName
    embeddingsContainerName: embeddingsContainerName
    speechQueueName: speechQueueName
    speechContainerName: speechContainerName
    imagesQueueName: imagesQueueName
    imagesContainerName: imagesContainerName
    httpAuthLevel: httpAuthLevel
    embeddingsMaxTokensPerRequest: embeddingsMaxTokensPerRequest
    transcriptionMaxConcurrency: transcriptionMaxConcurrency
    appSettingOverrides: appSettingOverrides
  }
}

module eventGridTopic 'app/event-grid-topic.bicep' = {
  name: 'event-grid-topic'
  scope: rg
  params: {
    name: '${abbrs.eventGridSystemTopics}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
  }
}

// Stage 2, after the code is deployed (see app/blob-event-subscription.bicep for why).
module blobEventSubscription 'app/blob-event-subscription.bicep' = if (blobEventSubscriptionEnabled) {
  name: 'blob-event-subscription'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    functionName: 'transcribeAudio'
    systemTopicName: eventGridTopic.outputs.name
    storageAccountName: storage.outputs.name
    audioContainerName: audioContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

// ---- Outputs: azd writes these to .azure/<env>/.env ----

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_OPENAI_ENDPOINT string = openAiAccess.outputs.endpoint
output AZURE_OPENAI_ACCOUNT_NAME string = openAiAccess.outputs.name
// As the app settings: the first deployment serving each capability, empty when none does.
output AZURE_OPENAI_CHAT_DEPLOYMENT string = chatSettingValue
output AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT string = embeddingsSettingValue
output AZURE_OPENAI_TRANSCRIPTION_DEPLOYMENT string = transcriptionSettingValue
output AZURE_OPENAI_SPEECH_DEPLOYMENT string = speechSettingValue
output AZURE_OPENAI_IMAGES_DEPLOYMENT string = imagesSettingValue
output AZURE_OPENAI_COMPLETIONS_DEPLOYMENT string = completionsSettingValue
// The routing table the app is given, for running it locally against the same accounts.
output AZURE_OPENAI_DEPLOYMENTS string = string(routingTable(openAiRoutingAccounts))
output AZURE_OPENAI_SECONDARY_ENDPOINT string = useSecondaryOpenAi ? openAiSecondaryAccess!.outputs.endpoint : ''
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_STORAGE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
// Named so it is not mistaken for AZURE_CLIENT_ID: locally, that would make the app ask for a managed identity that does not exist there.
output AZURE_FUNCTION_APP_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
output BLOB_EVENT_SUBSCRIPTION_ENABLED bool = blobEventSubscriptionEnabled
// The operators' workbook: open it in the portal (Application Insights > Workbooks, or this id).
output AZURE_MONITOR_WORKBOOK_ID string = monitoringWorkbook.outputs.id
