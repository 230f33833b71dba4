#!/usr/bin/env bash
# The README's first command (`npm start`): installs what it needs, then runs the main job on an
# embedded default. Today that is the trace-driven simulator on the built-in synthetic day
# (1,000 VMs on CloudSim's 800-host set-up, power budget at 70 % of peak), comparing the
# uncoordinated set-up with vmanage's coordinated policy, and writing an HTML report with charts.
# The live demo cluster (leader + host daemons + web dashboard) replaces it when it lands (issue 9).
# Extra arguments go to `vmanage sim` (e.g. --json, --workload FILE, --compare A,B).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
mkdir -p .cache
report=.cache/demo-report.html
echo "vmanage: simulating one day of a capped cluster: uncoordinated management vs vmanage" >&2
node dist/cli/vmanage.js sim --scenario capped --compare uncoordinated,vmanage --html "$report" "$@"
echo "vmanage: charts (power against budget, SLA violations, migrations): file://$PWD/$report" >&2
