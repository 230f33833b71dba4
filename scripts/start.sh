#!/usr/bin/env bash
# The README's first command (`npm start`): installs what it needs (scripts/setup.sh: Debian
# packages, npm tree, build), then runs the demo cluster on this machine: one vmanage-leader and
# (--hosts, default 4) vmanage-mvm host daemons on simulated hosts whose guests' agents speak real
# M-channels, with PlanetLab load, narrated as it happens (docs/demo.md). Prints the dashboard
# URL; stops cleanly on Ctrl-C. Extra arguments go to `vmanage demo` (--duration S, --json, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec node dist/cli/vmanage.js demo "$@"
