#!/usr/bin/env bash
# Installs what is needed (Node >= 22, npm dependencies), builds, and starts MoleTok.
# Embedded mode by default (every service in this process, data under DATA_DIR);
# `scripts/start.sh --repl` starts the same system with the Moleculer REPL.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_build
cd "$ROOT"
# SERVICEDIR: where SERVICES=<name,…> (one pod's services) are looked up; unset SERVICES = all.
export SERVICEDIR="${SERVICEDIR:-dist/services}"
exec node node_modules/moleculer/bin/moleculer-runner.js --config dist/moleculer.config.js "$@"
