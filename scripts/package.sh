#!/usr/bin/env bash
# Builds the vmanage Debian packages into dist/deb/ (npm run package). See docs/install.md.
# Needs node (the repository's node_modules: esbuild) and dpkg-deb.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/package/build.mjs "$@"
