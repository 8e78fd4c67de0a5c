#!/usr/bin/env bash
# drill-appliance-restart: SIGTERM egressd on app1 (graceful shutdown: withdraw, drain, Cease) and start it again (update delay): no request or TCP flow fails, at most 5 UDP datagrams lost, no flow silent for 2 s (the update delay waits for End-of-RIB and the learned routes in engine and kernel). Needs egressd's bgp graceful-shutdown.
# Lab: LAB_APPLIANCES=2 LAB_PROXIES=0. The bound and the figures: scripts/drill.sh.
TEST_NAME="drill-appliance-restart"  # used by lib.sh
export LAB_APPLIANCES=2 LAB_PROXIES=0
# The stand-in announces its routes 3 s after a session comes up (FRR's coalesce-time; default
# 1 s), after its first KEEPALIVE: an appliance that advertises before the spoke routes are in
# its kernel loses the replies of the flows moved back to it (35 datagrams with the old update delay).
export DRILL_TGW_COALESCE_MS=3000
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=Tests/Namespace/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
run_drill appliance-restart
