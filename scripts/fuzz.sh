#!/usr/bin/env bash
# The long property-test run of the parsers (shared/tests/parser_properties.rs):
# PROPTEST_CASES cases for each property, then the time it took and the case count.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${PROPTEST_CASES:-200000}"
test=(cargo test -q -p sfn-callback --test parser_properties)
"${test[@]}" --no-run
# Every test of the file is a property except the oracle's own check.
properties=$("${test[@]}" -- --list --format terse 2>/dev/null | grep -c ': test$' || true)
properties=$((properties - 1))
echo "fuzz: $properties properties, $cases cases each ($((properties * cases)) in all), 2 threads"
start=$(date +%s)
PROPTEST_CASES="$cases" "${test[@]}" -- --test-threads 2
end=$(date +%s)
echo "fuzz: $((properties * cases)) cases passed in $((end - start)) s"
