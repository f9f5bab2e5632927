# azd postdeploy hook (Windows): stage 2 of the audio blob trigger's Event Grid wiring.
# Same steps and reasons as postdeploy.sh: the webhook needs the host's blobs_extension key, which
# exists only after the deployed code has started, so wake the host, enable the flag, provision again.
$ErrorActionPreference = 'Stop'
# Seconds between attempts; overridable like postdeploy.sh.
$wakeDelay = if ($env:POSTDEPLOY_WAKE_DELAY_SECONDS) { [int]$env:POSTDEPLOY_WAKE_DELAY_SECONDS } else { 15 }
$retryDelay = if ($env:POSTDEPLOY_RETRY_DELAY_SECONDS) { [int]$env:POSTDEPLOY_RETRY_DELAY_SECONDS } else { 30 }

if ($env:BLOB_EVENT_SUBSCRIPTION_ENABLED -eq 'true') {
  Write-Host 'Event Grid subscription for the audio trigger is already provisioned; nothing to do.'
  exit 0
}
if (-not $env:AZURE_FUNCTION_APP_URL) {
  Write-Error "AZURE_FUNCTION_APP_URL is not set in the azd environment; run 'azd provision' first."
  exit 1
}

Write-Host "Waking the Functions host at $($env:AZURE_FUNCTION_APP_URL) ..."
for ($attempt = 1; $attempt -le 10; $attempt++) {
  try {
    $response = Invoke-WebRequest -Uri "$($env:AZURE_FUNCTION_APP_URL)/" -TimeoutSec 60 -SkipHttpErrorCheck -UseBasicParsing
    $status = [int]$response.StatusCode
  } catch {
    $status = 0
  }
  if (($status -ge 200 -and $status -lt 400) -or $status -in 401, 403, 404) {
    Write-Host "Host answered HTTP $status."
    break
  }
  Write-Host "Host not ready yet (HTTP $status); retrying in $wakeDelay s ($attempt/10)."
  Start-Sleep -Seconds $wakeDelay
}

azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED true
for ($attempt = 1; $attempt -le 3; $attempt++) {
  azd provision --no-prompt
  if ($LASTEXITCODE -eq 0) {
    Write-Host 'Event Grid subscription created: new blobs in the audio container now trigger transcribeAudio.'
    exit 0
  }
  Write-Warning "Provisioning stage 2 failed (the host may still be creating its keys); retrying in $retryDelay s ($attempt/3)."
  Start-Sleep -Seconds $retryDelay
}

azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED false
Write-Error "Could not create the Event Grid subscription. Check that the app started, then run: azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED true; azd provision"
exit 1
