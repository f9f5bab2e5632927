// The model deployments main.bicep creates and the routing table the app reads from
// AZURE_OPENAI_DEPLOYMENTS, as exported types and functions (imported by main.bicep and
// openai.bicep; nothing here is deployed). Functions, not variables, so the tests can evaluate the
// same code with the Bicep CLI on sample endpoints: the real endpoints are known only at deployment.

@export()
@description('What the app uses a deployment for; one route per capability in src/.')
type capability = 'chat' | 'responses' | 'embeddings' | 'transcription' | 'speech' | 'images' | 'completions'

@export()
@description('One model deployment: what to create on the account and how the app routes to it.')
type openAiDeployment = {
  @description('Deployment name on the account.')
  @minLength(1)
  name: string

  @description('Model name callers send (the routing table\'s key); absent means the deployment name. Several deployments may share one, and keys are compared without regard to case, so do not use two spellings of one name.')
  @minLength(1)
  alias: string?

  @description('Model name in the Azure OpenAI catalog, e.g. gpt-4o-mini.')
  modelName: string

  @description('Model version.')
  modelVersion: string

  @description('Deployment SKU, e.g. GlobalStandard or Standard.')
  skuName: string

  @description('Capacity in the SKU\'s units (thousands of tokens per minute for token models).')
  @minValue(1)
  capacity: int

  @description('What the app may use it for.')
  @minLength(1)
  capabilities: capability[]

  @description('Routing priority: lower is tried first; absent means 1.')
  @minValue(1)
  priority: int?

  @description('Routing weight among backends of the same priority; absent means 1.')
  @minValue(1)
  weight: int?
}

@export()
@description('An account the app may call, with the deployments it serves.')
type openAiRoutingAccount = {
  @description('The account\'s endpoint (a trailing slash is removed).')
  endpoint: string

  @description('Added to each deployment\'s priority on this account: 0 to spread load across accounts, 1 to spill over to it.')
  @minValue(0)
  priorityOffset: int

  @description('The deployments this account serves.')
  deployments: openAiDeployment[]
}

@export()
@description('An endpoint without the trailing slash ARM reports (https://NAME.openai.azure.com), as the app wants it.')
func trimEndpoint(endpoint string) string => endsWith(endpoint, '/') ? take(endpoint, length(endpoint) - 1) : endpoint

@export()
@description('The model name callers send (alias) of the first deployment serving a capability, or an empty string when none does: the app reads a per-capability setting as the default model of AZURE_OPENAI_DEPLOYMENTS.')
func firstServing(deployments openAiDeployment[], capability string) string =>
  first(concat(map(filter(deployments, d => contains(d.capabilities, capability)), d => aliasOf(d)), ['']))

@description('The model name callers send for a deployment.')
func aliasOf(deployment openAiDeployment) string => deployment.?alias ?? deployment.name

@export()
@description('The routing table: per model name callers send, one backend per account serving it ({deployment, endpoint, capabilities, priority, weight}), accounts in the order given.')
func routingTable(accounts openAiRoutingAccount[]) object =>
  toObject(
    // toObject refuses duplicate keys, and union() keeps each name once.
    union(flatten(map(accounts, account => map(account.deployments, d => aliasOf(d)))), []),
    alias => alias,
    alias =>
      flatten(map(
        accounts,
        account =>
          map(filter(account.deployments, d => aliasOf(d) == alias), d => {
            deployment: d.name
            endpoint: trimEndpoint(account.endpoint)
            capabilities: d.capabilities
            priority: (d.?priority ?? 1) + account.priorityOffset
            weight: d.?weight ?? 1
          })
      ))
  )
