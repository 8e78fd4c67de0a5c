#!/usr/bin/env bash
# dataplane-raw: forwarding both ways through the lab with `dataplane io-backend raw` and two
# workers per egressd (the body is dataplane_backend.sh).
TEST_NAME="dataplane-raw"  # used by lib.sh
BACKEND=raw
# shellcheck source=Tests/Namespace/dataplane_backend.sh
source "$(dirname "$0")/dataplane_backend.sh"
