#!/usr/bin/env bash
# bad-gre-drops: scapy in the tgw namespace sends N crafted GRE packets per kind to app1
# (10.0.1.10). Each kind must raise exactly its drop counter by N (on tunnel tgw0, whose peer
# 10.0.0.1 is the source; unknown-peer in `show dataplane json` for a foreign source) and move
# no other drop counter. A GRE packet with a correct checksum is forwarded, not dropped.
TEST_NAME="bad-gre-drops"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
N=20

# deltas BEFORE AFTER EXPECTED_JSON: "" when every watched counter moved exactly as expected
# (unlisted ones by 0), else what differs. Watched: each tunnel's drops and decap counters,
# the dataplane's unknown-peer. Keys: "tgw0.bad-gre", "tgw0.decapForwarded", "unknown-peer".
deltas() {
    BEFORE=$1 AFTER=$2 EXPECTED=$3 "$PY" -c '
import json, os
def flat(doc):
    d = json.loads(doc)
    out = {"unknown-peer": d["dataplane"]["counters"]["drops"]["unknown-peer"]}
    for i in d["interfaces"]["interfaces"]:
        c = i["counters"]
        for reason, n in c["drops"].items():
            out[i["name"] + "." + reason] = n
        for key in ("decapForwarded", "decapToKernel"):
            out[i["name"] + "." + key] = c[key]
    return out
before, after = flat(os.environ["BEFORE"]), flat(os.environ["AFTER"])
expected = json.loads(os.environ["EXPECTED"])
wrong = ["%s rose by %d (want %d)" % (k, after[k] - before.get(k, 0), expected.get(k, 0))
         for k in sorted(after) if after[k] - before.get(k, 0) != expected.get(k, 0)]
missing = [k for k in expected if k not in after]
print("; ".join(wrong + ["no counter %s" % k for k in missing]))'
}

# expect_kind KIND SRC EXPECTED_JSON: send N packets of KIND from SRC, wait (bounded) until the
# counters moved exactly as EXPECTED_JSON says, and check again once late packets had time.
expect_kind() {
    local kind=$1 src=$2 expected=$3 before after why deadline
    before=$(counters_snapshot app1)
    in_node tgw "$PY" "$NS_TEST_DIR/send_bad_gre.py" "$kind" "$N" --src "$src" >"$WORK/scapy.log" 2>&1 \
        || fail "$kind: scapy failed: $(tail -n 5 "$WORK/scapy.log")"
    deadline=$(( $(date +%s) + 10 ))
    while :; do
        after=$(counters_snapshot app1)
        why=$(deltas "$before" "$after" "$expected")
        [[ -z $why ]] && break
        (( $(date +%s) >= deadline )) && fail "$kind ($N packets from $src): $why"
        sleep 0.3
    done
    sleep 0.5   # late arrivals would show up as extra counts
    why=$(deltas "$before" "$(counters_snapshot app1)" "$expected")
    [[ -z $why ]] || fail "$kind ($N packets from $src), after settling: $why"
}

lab_up
lab_bgp_silence   # BGP keepalives would move decapToKernel
expect_kind version1           10.0.0.1 "{\"tgw0.bad-gre\": $N}"
expect_kind routing            10.0.0.1 "{\"tgw0.bad-gre\": $N}"
expect_kind bad-checksum       10.0.0.1 "{\"tgw0.gre-checksum\": $N}"
expect_kind good-checksum      10.0.0.1 "{\"tgw0.decapForwarded\": $N}"
expect_kind teb                10.0.0.1 "{\"tgw0.unsupported-payload\": $N}"
expect_kind inner-bad-checksum 10.0.0.1 "{\"tgw0.bad-inner\": $N}"
expect_kind inner-bad-version  10.0.0.1 "{\"tgw0.bad-inner\": $N}"
# The same packets from tgw1's peer address land on tgw1.
expect_kind version1           10.0.0.2 "{\"tgw1.bad-gre\": $N}"
# GRE from an address that is no tunnel's peer.
in_node tgw ip addr add 10.0.9.9/16 dev u0 || fail "cannot add 10.0.9.9/16 to tgw's underlay"
expect_kind plain              10.0.9.9 "{\"unknown-peer\": $N}"
pass
