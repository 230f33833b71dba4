#!/usr/bin/env bash
# End-to-end tests on real libvirtd + QEMU (TCG) VMs. Build artefacts are cached in .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls test/e2e/*.test.ts >/dev/null 2>&1; then echo "e2e: no end-to-end tests yet"; exit 0; fi
npx ava --config test/e2e/ava.config.mjs "$@"
