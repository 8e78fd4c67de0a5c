#!/usr/bin/env bash
# drill-config-reload: SIGHUP app1 with a changed config under load, then with the old one: nothing lost, no flow silent for 2 s, no BGP session reset, the change shows in the running config.
# Lab: LAB_APPLIANCES=1 LAB_PROXIES=0. The bound and the figures: scripts/drill.sh.
TEST_NAME="drill-config-reload"  # used by lib.sh
export LAB_APPLIANCES=1 LAB_PROXIES=0
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=Tests/Namespace/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
run_drill config-reload
