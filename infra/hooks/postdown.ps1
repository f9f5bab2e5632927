# azd postdown hook (Windows): the next `azd up` must start again at stage 1 (see postdown.sh).
$ErrorActionPreference = 'Stop'
azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED false
