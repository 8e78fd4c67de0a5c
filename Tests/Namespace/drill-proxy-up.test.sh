#!/usr/bin/env bash
# drill-proxy-up: a stopped Squid starts again under load and gets its buckets back; no new request fails (at most 2 caught mid-move), TCP and UDP undisturbed.
# Lab: LAB_APPLIANCES=1 LAB_PROXIES=1. The bound and the figures: scripts/drill.sh.
TEST_NAME="drill-proxy-up"  # used by lib.sh
export LAB_APPLIANCES=1 LAB_PROXIES=1
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=Tests/Namespace/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"
run_drill proxy-up
