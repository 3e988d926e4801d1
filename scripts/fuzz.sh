#!/usr/bin/env bash
# The long property-test run of everything that reads untrusted input:
# shared/tests/parser_properties.rs (callback messages, SNS envelopes, task
# messages) and approval/tests/approval_properties.rs (sealed links, the
# decision form). PROPTEST_CASES cases for each property, then the time and case count.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${PROPTEST_CASES:-200000}"
test=(cargo test -q -p sfn-callback -p sfn-callback-approval --test parser_properties --test approval_properties)
"${test[@]}" --no-run
# Every test of those files is a property except parser_properties' check of its own oracle.
properties=$("${test[@]}" -- --list --format terse 2>/dev/null | grep -c ': test$' || true)
properties=$((properties - 1))
echo "fuzz: $properties properties, $cases cases each ($((properties * cases)) in all), 2 threads"
start=$(date +%s)
PROPTEST_CASES="$cases" "${test[@]}" -- --test-threads 2
end=$(date +%s)
echo "fuzz: $((properties * cases)) cases passed in $((end - start)) s"
