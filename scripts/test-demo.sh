#!/usr/bin/env bash
# CI check of the demo cluster (issue 9): what `npm start -- --duration 60 --json` runs, without
# re-running setup (calls the built CLI). Passes when the demo exits 0 with at least one
# SLA-driven frequency raise, one budget cap and one live migration, budgetViolationPct under 1,
# and no process of the demo is left afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
status=0
node dist/cli/vmanage.js demo --duration "${VMANAGE_DEMO_SECONDS:-60}" --json >"$out" 2>"$err" || status=$?
echo "test-demo: exit $status; summary: $(cat "$out")"
if [ "$status" != 0 ]; then tail -n 40 "$err"; exit 1; fi
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const problems = [];
if (!(s.slaFrequencyRaises >= 1)) problems.push(`slaFrequencyRaises ${s.slaFrequencyRaises} < 1`);
if (!(s.budgetCaps >= 1)) problems.push(`budgetCaps ${s.budgetCaps} < 1`);
if (!(s.migrations >= 1)) problems.push(`migrations ${s.migrations} < 1`);
if (!Array.isArray(s.pids) || s.pids.length < 2) problems.push("no daemon PIDs in the summary");
if (!(s.budgetViolationPct < 1)) problems.push(`budgetViolationPct ${s.budgetViolationPct} >= 1`);
if (problems.length) { console.error("test-demo: " + problems.join("; ")); process.exit(1); }
' "$out" || { tail -n 60 "$err"; exit 1; }
# The demo names the PIDs of the daemons it started: none may be left.
left=$(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const p of s.pids) { try { process.kill(p, 0); console.log(p); } catch {} }' "$out")
if [ -n "$left" ]; then echo "test-demo: processes left behind: $left"; exit 1; fi
echo "test-demo: ok"
