// Stage 2 of the blob trigger's Event Grid wiring: the subscription that delivers BlobCreated
// events in the audio container to the transcribeAudio function.
//
// Why a second stage: the webhook URL carries the host's `blobs_extension` system key, and the
// Functions host creates that key only when it first starts with code that has an Event Grid
// blob trigger. During the first `azd provision` there is no code yet, so the key (and the
// endpoint, which must answer Event Grid's validation handshake) do not exist. main.bicep
// therefore deploys this module only when blobEventSubscriptionEnabled is true, and the azd
// postdeploy hook (infra/hooks/postdeploy.*) sets that flag and provisions again once the code is
// live. Reading the key here with listKeys() keeps it out of parameters, outputs and azd's
// environment file.

@description('Name of the function app.')
param functionAppName string

@description('Name of the function that has the Event Grid blob trigger (app.storageBlob("transcribeAudio", ...)).')
param functionName string = 'transcribeAudio'

@description('Name of the existing system topic on the storage account.')
param systemTopicName string

@description('Name of the storage account (for the dead-letter destination).')
param storageAccountName string

@description('Container whose new blobs trigger the function.')
param audioContainerName string

@description('Container that receives events Event Grid could not deliver.')
param deadLetterContainerName string

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes an event is retried before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName

  resource host 'host' existing = {
    name: 'default'
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

// The default host name, not NAME.azurewebsites.net: new Flex apps may get a regional unique host name.
var webhookUrl = 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${functionApp::host.listKeys().systemKeys.blobs_extension}'

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: '${functionName}-${audioContainerName}'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: webhookUrl
        // One blob per request: each transcription is long-running work of its own.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${audioContainerName}/'
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    // The account accepts no keys, so the topic writes dead letters with its own identity.
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output name string = subscription.name
