// The private network used when main.bicep's vnetEnabled is true: one virtual network with a
// subnet for the function app's outbound VNet integration and a subnet for private endpoints,
// plus the private DNS zones that make storage and Azure OpenAI host names resolve to those
// private endpoints from inside the network. The private endpoints themselves are created per
// target with private-endpoint.bicep, which registers each one in a zone output here.

@description('Name of the virtual network.')
param name string

@description('Azure region; it must be the function app\'s, because VNet integration only works within one region.')
param location string

@description('Tags for the virtual network, the private DNS zones and their links.')
param tags object

@description('Address space of the virtual network; both subnets below must fit inside it.')
param addressPrefix string = '10.0.0.0/16'

@description('Name of the subnet delegated to the Flex Consumption app.')
param appSubnetName string = 'snet-app'

@description('Address range of the app subnet. Scaled-out instances take their addresses from it (Azure also reserves five per subnet) and it cannot be changed while the app is integrated, so size it for maximumInstanceCount.')
param appSubnetPrefix string = '10.0.0.0/24'

@description('Name of the subnet that holds the private endpoints.')
param privateEndpointSubnetName string = 'snet-private-endpoints'

@description('Address range of the private endpoint subnet (one address per private endpoint).')
param privateEndpointSubnetPrefix string = '10.0.1.0/24'

// Azure OpenAI has its own private link zone per cloud; storage zones follow environment().
var openAiPrivateDnsZoneByCloud = {
  AzureUSGovernment: 'privatelink.openai.azure.us'
  AzureChinaCloud: 'privatelink.openai.azure.cn'
}
var openAiPrivateDnsZoneName = openAiPrivateDnsZoneByCloud[?environment().name] ?? 'privatelink.openai.azure.com'

// The order matters: the privateDnsZoneIds output reads the zones back by index.
var privateDnsZoneNames = [
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  openAiPrivateDnsZoneName
]

@description('Resource ids of the private DNS zones, by the service whose private endpoints they resolve.')
type privateDnsZoneIdsType = {
  @description('Zone for blob private endpoints (groupId blob).')
  blob: string
  @description('Zone for queue private endpoints (groupId queue).')
  queue: string
  @description('Zone for table private endpoints (groupId table).')
  table: string
  @description('Zone for Azure OpenAI private endpoints (groupId account).')
  openai: string
}

resource vnet 'Microsoft.Network/virtualNetworks@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    // Subnets are declared inline, not as child resources: a later deployment of the network
    // without them would otherwise try to delete subnets that are in use.
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          // Flex Consumption runs on the Container Apps infrastructure, so its integration
          // subnet must be delegated to Microsoft.App/environments (not Microsoft.Web/serverFarms),
          // and it must not hold private endpoints or be delegated to anything else.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          // No NSG or route table applies to the private endpoints here, so nothing in this
          // template can accidentally cut the app off from storage or Azure OpenAI.
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }

  resource appSubnet 'subnets' existing = {
    name: appSubnetName
  }

  resource privateEndpointSubnet 'subnets' existing = {
    name: privateEndpointSubnetName
  }
}

// Private DNS zones are global resources; a zone only answers inside the networks linked to it.
resource privateDnsZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for zoneName in privateDnsZoneNames: {
  name: zoneName
  location: 'global'
  tags: tags
}]

// Linking each zone to the network is what makes the app (which resolves names through the
// network's Azure-provided DNS) get the private endpoint addresses instead of the public ones.
// No auto-registration: the A records come from the private endpoints' DNS zone groups.
resource privateDnsZoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for i in range(0, length(privateDnsZoneNames)): {
  parent: privateDnsZones[i]
  name: 'link-${name}'
  location: 'global'
  tags: tags
  properties: {
    virtualNetwork: {
      id: vnet.id
    }
    registrationEnabled: false
  }
}]

output name string = vnet.name
output id string = vnet.id
// For the function app's virtualNetworkSubnetId.
output appSubnetId string = vnet::appSubnet.id
// For private-endpoint.bicep's subnetId.
output privateEndpointSubnetId string = vnet::privateEndpointSubnet.id
// For private-endpoint.bicep's privateDnsZoneId; indexes follow privateDnsZoneNames.
output privateDnsZoneIds privateDnsZoneIdsType = {
  blob: privateDnsZones[0].id
  queue: privateDnsZones[1].id
  table: privateDnsZones[2].id
  openai: privateDnsZones[3].id
}
