#!/usr/bin/env bash
# drill-egress-path-down: app1's firewall link fails: its track goes down, it withdraws 0.0.0.0/0 (sessions stay up), flows move to app2 within 6 s; app2's flows undisturbed; back when the link heals.
# Lab: LAB_APPLIANCES=2 LAB_PROXIES=0. The bound and the figures: scripts/drill.sh.
TEST_NAME="drill-egress-path-down"  # used by lib.sh
export LAB_APPLIANCES=2 LAB_PROXIES=0
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=Tests/Namespace/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
run_drill egress-path-down
