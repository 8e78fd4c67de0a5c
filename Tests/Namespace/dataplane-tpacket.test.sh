#!/usr/bin/env bash
# dataplane-tpacket: forwarding both ways through the lab with `dataplane io-backend tpacket` and two
# workers per egressd (the body is dataplane_backend.sh).
TEST_NAME="dataplane-tpacket"  # used by lib.sh
BACKEND=tpacket
# shellcheck source=Tests/Namespace/dataplane_backend.sh
source "$(dirname "$0")/dataplane_backend.sh"
