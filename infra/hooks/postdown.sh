#!/bin/sh
# azd postdown hook: the app is gone, so the next `azd up` must start again at stage 1 (a new app
# has no blobs_extension key until its code is deployed).
set -eu
azd env set BLOB_EVENT_SUBSCRIPTION_ENABLED false
