// The storage account used by the Functions host (AzureWebJobsStorage), by the app's own blob and
// queue clients, for the Flex Consumption deployment package and for Event Grid dead letters.
// Keys are switched off: every caller authenticates with Entra ID.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the storage account.')
param tags object

@description('Blob containers to create (the app\'s containers, the deployment package, dead letters).')
param containerNames string[]

@description('Queues to create.')
param queueNames string[]

@description('Blob name prefixes (container/) whose blobs are deleted once unchanged for expireAfterDays: records that are only written on their own day, such as the per-caller token counts.')
param expiringBlobPrefixes string[] = []

@description('Days a blob under expiringBlobPrefixes is kept after its last change.')
@minValue(1)
param expireAfterDays int = 2

@description('Close the public endpoint (private endpoints only, plus trusted Azure services such as Event Grid dead-lettering).')
param privateNetworkOnly bool = false

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // No account keys or SAS signed with them: the host, the app and Event Grid all use Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Audio and transcripts are private: no anonymous reads, whatever a container's ACL says.
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    accessTier: 'Hot'
    // Without a virtual network the app reaches storage over its public endpoint. With one, the
    // firewall denies every public caller; 'Enabled' (not 'Disabled') keeps the trusted-services
    // exception, which Event Grid's dead-lettering with its system identity needs. The app and the
    // Flex deployment package go through the private endpoints.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: privateNetworkOnly ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource containers 'containers' = [for containerName in containerNames: {
      name: containerName
      properties: {
        publicAccess: 'None'
      }
    }]
  }

  // Blob lifecycle management deletes what the app stops writing (the per-caller counts are one
  // blob per caller and UTC day, never written again once the day ends), so the container does not
  // grow without end; the app deletes nothing itself, which would take a scan from every instance.
  resource lifecycle 'managementPolicies' = if (!empty(expiringBlobPrefixes)) {
    name: 'default'
    properties: {
      policy: {
        rules: [
          {
            name: 'delete-ended-day-records'
            enabled: true
            type: 'Lifecycle'
            definition: {
              filters: {
                blobTypes: ['blockBlob']
                prefixMatch: expiringBlobPrefixes
              }
              actions: {
                baseBlob: {
                  delete: {
                    daysAfterModificationGreaterThan: expireAfterDays
                  }
                }
              }
            }
          }
        ]
      }
    }
  }

  resource queueService 'queueServices' = {
    name: 'default'

    resource queues 'queues' = [for queueName in queueNames: {
      name: queueName
    }]
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
