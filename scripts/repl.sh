#!/usr/bin/env bash
# The developers' REPL (Moleculer's, with the commands of lib/repl.ts):
#   npm run repl                 every service in this process, embedded mode (as `npm start`)
#   npm run repl -- --attach     a node with NO services that joins a running cluster: the local
#                                one of scripts/cluster.sh (its environment), or, when TRANSPORTER
#                                is already set, the one this environment describes
# In Kubernetes: kubectl exec -it deploy/<release>-users -- node dist/lib/repl-attach.js
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ "${1:-}" = --attach ]; then
	shift
	ensure_build
	[ -n "${TRANSPORTER:-}" ] || eval "$(bash "$ROOT/scripts/cluster.sh" env)"
	cd "$ROOT"
	exec node dist/lib/repl-attach.js "$@"
fi
exec bash "$ROOT/scripts/start.sh" --repl "$@"
