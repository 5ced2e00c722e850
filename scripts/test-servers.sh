#!/usr/bin/env bash
# The suites that need real servers: starts NATS (with auth), Redis, FerretDB and the S3 gateway on loopback
# (installing them once, cached), then runs the `servers` jest project: the store and
# storage contracts on FerretDB and the S3 gateway, and the whole HTTP API against MoleTok running
# as a cluster (one process per service over NATS). A missing server fails, never skips.
# Extra arguments go to jest.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_build
eval "$(bash "$ROOT/scripts/servers.sh" start)"
cd "$ROOT"
exec node node_modules/jest/bin/jest.js "$@" --selectProjects servers --runInBand
