#!/usr/bin/env bash
# drill-tunnel-down: cut one of app1's Connect tunnels (GRE dropped on the stand-in): flows through it recover within the BGP hold time (9 s) + 1 s; app2's flows undisturbed; the tunnel rejoins ECMP when restored.
# Lab: LAB_APPLIANCES=2 LAB_PROXIES=0. The bound and the figures: scripts/drill.sh.
TEST_NAME="drill-tunnel-down"  # used by lib.sh
export LAB_APPLIANCES=2 LAB_PROXIES=0
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=Tests/Namespace/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
run_drill tunnel-down
