// One private endpoint: a private address in the private endpoint subnet for one sub-resource
// (groupId) of a storage account or an Azure OpenAI account, registered in the matching private
// DNS zone from network.bicep so the resource's usual host name resolves to that address inside
// the virtual network. Deploy it once per sub-resource (blob, queue, table, account).

@description('Name of the private endpoint; its network interface is named after it.')
param name string

@description('Azure region; it must be the virtual network\'s (the target resource may be elsewhere).')
param location string

@description('Tags for the private endpoint.')
param tags object

@description('Resource id of the private endpoint subnet (network.bicep output privateEndpointSubnetId).')
param subnetId string

@description('Resource id of the resource to reach privately: a storage account or an Azure OpenAI account. It may be in another resource group.')
param targetResourceId string

@description('Sub-resource to expose: blob, queue or table for storage, account for Azure OpenAI. Each needs its own endpoint and zone.')
@allowed([
  'blob'
  'queue'
  'table'
  'account'
])
param groupId string

@description('Resource id of the private DNS zone for this groupId (one of network.bicep output privateDnsZoneIds).')
param privateDnsZoneId string

resource privateEndpoint 'Microsoft.Network/privateEndpoints@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    // A readable name instead of the generated NAME.nic.GUID.
    customNetworkInterfaceName: '${name}-nic'
    // Automatic approval: the deploying principal owns the target, so no manual approval is needed.
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: targetResourceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }

  // The zone group makes Azure write (and later remove) the endpoint's A record in the zone, so
  // no DNS record is managed by hand and the record follows the endpoint's address.
  resource dnsZoneGroup 'privateDnsZoneGroups' = {
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: groupId
          properties: {
            privateDnsZoneId: privateDnsZoneId
          }
        }
      ]
    }
  }
}

output id string = privateEndpoint.id
output name string = privateEndpoint.name
