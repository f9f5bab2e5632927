#!/bin/sh
# azd postdeploy hook: stage 2 of the audio blob trigger's Event Grid wiring.
#
# The Event Grid subscription's webhook URL carries the Functions host's blobs_extension system key,
# which exists only once the host has started with the deployed code (the first provision runs
# before any code exists). So after `azd deploy` this hook wakes the host, turns on
# BLOB_EVENT_SUBSCRIPTION_ENABLED and provisions again; main.bicep then deploys
# app/blob-event-subscription.bicep, which reads the key with listKeys() inside ARM, so the key
# never passes through this script, the azd environment or a deployment output.
set -eu

# Seconds between attempts; overridable so the hook's tests run fast.
wake_delay="${POSTDEPLOY_WAKE_DELAY_SECONDS:-15}"
retry_delay="${POSTDEPLOY_RETRY_DELAY_SECONDS:-30}"

if [ "${BLOB_EVENT_SUBSCRIPTION_ENABLED:-false}" = "true" ]; then
  echo "Event Grid subscription for the audio trigger is already provisioned; nothing to do."
  exit 0
fi

if [ -z "${AZURE_FUNCTION_APP_URL:-}" ]; then
  echo "AZURE_FUNCTION_APP_URL is not set in the azd environment; run 'azd provision' first." >&2
  exit 1
fi

# Starting the host creates the blobs_extension key (the host is scaled to zero after a deploy).
echo "Waking the Functions host at $AZURE_FUNCTION_APP_URL ..."
attempt=1
while [ "$attempt" -le 10 ]; do
  status=$(curl --silent --output /dev/null --max-time 60 --write-out '%{http_code}' "$AZURE_FUNCTION_APP_URL/" || true)
  case "$status" in
    2??|3??|401|403|404) echo "Host answered HTTP $status."; break ;;
  esac
  echo "Host not ready yet (HTTP ${status:-none}); retrying in ${wake_delay} s ($attempt/10)."
  attempt=$((attempt + 1))
  sleep "$wake_delay"
done

azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED true
attempt=1
while [ "$attempt" -le 3 ]; do
  if azd provision --no-prompt; then
    echo "Event Grid subscription created: new blobs in the audio container now trigger transcribeAudio."
    exit 0
  fi
  echo "Provisioning stage 2 failed (the host may still be creating its keys); retrying in ${retry_delay} s ($attempt/3)." >&2
  attempt=$((attempt + 1))
  sleep "$retry_delay"
done

azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED false
echo "Could not create the Event Grid subscription. Check that the app started (Application Insights, 'az functionapp function list'), then run: azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED true && azd provision" >&2
exit 1
