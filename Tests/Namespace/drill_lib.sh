# shellcheck shell=bash
# Shared part of the drill tests (drill-*.test.sh): bring up this test's own lab in the variant
# the drill needs (the test sets LAB_APPLIANCES/LAB_PROXIES before sourcing lib.sh), run
# scripts/drill.sh NAME under its load, print the verdict's figures, pass or fail on it.
# Sourced after lib.sh (fail, pass, lab_up, WORK, REPO_DIR).

# run_drill NAME: the whole test.
run_drill() {
    local name=$1 rc=0
    lab_up
    DRILL_JSON=$WORK/verdict.json "$REPO_DIR/scripts/drill.sh" "$name" >"$WORK/drill.log" 2>&1 || rc=$?
    # The figures (name: value unit) and the checks, for the CI log; not the per-second lines.
    grep -E '^[a-z_]+: |^check: |^  unrelated|^error: ' "$WORK/drill.log" | sed 's/^/    /'
    [[ -s $WORK/verdict.json ]] || { tail -n 20 "$WORK/drill.log" | sed 's/^/    /'; fail "scripts/drill.sh $name gave no verdict (exit $rc)"; }
    grep -q "^result: PASS $name\$" "$WORK/drill.log" \
        || fail "$(grep '^check: FAIL' "$WORK/drill.log" | sed 's/^check: FAIL *//' | paste -sd ';' -)"
    (( rc == 0 )) || fail "scripts/drill.sh $name exited $rc after a PASS verdict"
    pass
}
