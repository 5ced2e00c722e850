#!/usr/bin/env bash
# The HTTP benchmark (bench/run.ts): feed, profile, like, follow, comment and message under load against
# MoleTok embedded, a local cluster and a bare Node server, in one run. Builds, starts the
# real servers (scripts/servers.sh) for the cluster, compiles and runs the benchmark.
# Results: bench/results/<timestamp>.json and bench/results/latest.json, a table on stdout.
# A measurement: missed targets are flags in the JSON, not a failing exit.
#
# Env: BENCH_DURATION (10 s), BENCH_WARMUP (2 s), BENCH_CONNECTIONS (50), BENCH_TARGETS
# (embedded,bare,embedded-nometrics,cluster), BENCH_ENDPOINTS (feed,user,favorite,follow,comment,message),
# BENCH_TIMEOUT (1800 s for the whole run), BENCH_CPU_PROF (directory for V8 CPU profiles of
# the server processes), BENCH_NODE_OPTIONS (NODE_OPTIONS for the server processes, to try
# V8 or Node flags), BENCH_KEEP=1 (keep the work directory with the servers' logs).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_build
cd "$ROOT"
if [[ ",${BENCH_TARGETS:-cluster}," == *,cluster,* ]]; then
	eval "$(bash "$ROOT/scripts/servers.sh" start)"
fi
npx tsc -p bench/tsconfig.json
# The benchmark stops what it started when it times out itself; `timeout` is the backstop.
exec timeout --signal=TERM --kill-after=120 "$(( ${BENCH_TIMEOUT:-1800} + 300 ))" node dist/bench/run.js "$@"
