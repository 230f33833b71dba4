#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the tests need, then runs the unit and
# real-peer tests (each test starts the peers it needs and stops them), then the VM end-to-end tests,
# then the demo cluster check (scripts/test-demo.sh), then the packaging test (builds the .debs,
# installs them into a clean Debian root, boots it).
# VMANAGE_SKIP_E2E=1 / VMANAGE_SKIP_DEMO=1 / VMANAGE_SKIP_PACKAGING=1 skip the slow stages (for quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx ava "$@"
if [ "${VMANAGE_SKIP_E2E:-0}" != 1 ]; then
  bash scripts/test-e2e.sh
fi
if [ "${VMANAGE_SKIP_DEMO:-0}" != 1 ]; then
  bash scripts/test-demo.sh
fi
if [ "${VMANAGE_SKIP_PACKAGING:-0}" != 1 ]; then
  bash scripts/test-packaging.sh
fi
