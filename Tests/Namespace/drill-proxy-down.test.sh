#!/usr/bin/env bash
# drill-proxy-down: kill -9 one Squid under load: only its flows are disturbed, for under 2 s (its buckets fail open at once); TCP and UDP flows and downloads through the other proxy undisturbed.
# Lab: LAB_APPLIANCES=1 LAB_PROXIES=1. The bound and the figures: scripts/drill.sh.
TEST_NAME="drill-proxy-down"  # used by lib.sh
export LAB_APPLIANCES=1 LAB_PROXIES=1
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=Tests/Namespace/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
run_drill proxy-down
