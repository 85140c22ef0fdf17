#!/usr/bin/env bash
# The one test command: install what the tests need, then type-check, lint and run
# every test, the lab's real daemons included. CI runs exactly this (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run --silent typecheck
npm run --silent lint
# The tests that start `bin/mamori.js` run what ships: the build (a stale or missing one would
# make bin/mamori.js fall back to the sources, so build first).
npm run --silent build
npx vitest run
