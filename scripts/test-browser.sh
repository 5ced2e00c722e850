#!/usr/bin/env bash
# The web client's tests in a real browser (README: npm run test:browser): Debian's Chromium
# driven by playwright-core against an embedded MoleTok. A missing Chromium fails here;
# `bash scripts/browser.sh install` installs it. Extra arguments go to jest.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_build
CHROMIUM_PATH="$(bash "$ROOT/scripts/browser.sh" path)"
export CHROMIUM_PATH
cd "$ROOT"
exec node node_modules/jest/bin/jest.js --selectProjects browser --runInBand "$@"
