#!/usr/bin/env bash
# drill-appliance-down: kill -9 egressd on app1 under load: the stand-in's ECMP moves its flows to app2 within the hold time (9 s) + 1 s; app2's flows undisturbed; app1 rejoins when started again.
# Lab: LAB_APPLIANCES=2 LAB_PROXIES=0. The bound and the figures: scripts/drill.sh.
TEST_NAME="drill-appliance-down"  # used by lib.sh
export LAB_APPLIANCES=2 LAB_PROXIES=0
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=Tests/Namespace/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
run_drill appliance-down
