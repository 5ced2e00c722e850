#!/usr/bin/env bash
# The README's test command: every suite that needs no external server.
# Extra arguments go to jest (e.g. a test file pattern).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_build
cd "$ROOT"
exec node node_modules/jest/bin/jest.js "$@" --selectProjects unit
