#!/usr/bin/env bash
# A local MoleTok cluster: the real servers (scripts/servers.sh) plus every service as
# its own process over NATS, as the Kubernetes pods run them: two replicas of `api`
# (ports $API_PORT and $API_PORT+1) and of `videos`, one of every other service.
#
#   scripts/cluster.sh start    build, start the servers and the processes, wait until the API answers
#   scripts/cluster.sh stop     stop the processes (SIGTERM; the servers stay up)
#   scripts/cluster.sh status   which processes run
#   scripts/cluster.sh env      print the environment the processes run with
#
# `npm run repl -- --attach` joins it as a node with no services (scripts/repl.sh).
#
# Every process gets its own HEALTH_PORT ($HEALTH_PORT_BASE + n) and METRICS_PORT
# ($METRICS_PORT_BASE + n), n = 0, 1, … in start order; `start` writes the metrics endpoints
# to $DIR/targets.json in Prometheus' file_sd format (labels: node, service, health_port).
#
# Env: API_PORT (default 8080), HEALTH_PORT_BASE (3100), METRICS_PORT_BASE (3200),
# REPLICAS_API / REPLICAS_VIDEOS / REPLICAS_TRANSCODER (2, 2, 1), MOLETOK_STATE (logs and pid
# files under $MOLETOK_STATE/cluster), MOLETOK_CLUSTER_DIR (that directory itself), JWT_SECRET
# (generated once into the state directory when unset), LOG_LEVEL (default warn),
# CLUSTER_SERVERS=given (use TRANSPORTER, MONGO_URI, REDIS_URL and S3_* as set in the
# environment, e.g. servers of the benchmark's own, instead of starting scripts/servers.sh).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
STATE="${MOLETOK_STATE:-$MOLETOK_CACHE/state}"
DIR="${MOLETOK_CLUSTER_DIR:-$STATE/cluster}"
API_PORT="${API_PORT:-8080}"
HEALTH_PORT_BASE="${HEALTH_PORT_BASE:-3100}"
METRICS_PORT_BASE="${METRICS_PORT_BASE:-3200}"
SERVICES=(users videos transcoder favorites comments relations messages api)
declare -A REPLICAS=([api]="${REPLICAS_API:-2}" [videos]="${REPLICAS_VIDEOS:-2}" [transcoder]="${REPLICAS_TRANSCODER:-1}")
mkdir -p "$DIR"

log() { echo "cluster: $*" >&2; }

cluster_env() {
	local secret_file="$DIR/jwt-secret"
	[ -s "$secret_file" ] || node -e 'console.log(require("crypto").randomBytes(48).toString("base64url"))' >"$secret_file"
	if [ "${CLUSTER_SERVERS:-}" = given ]; then
		local name
		for name in TRANSPORTER MONGO_URI REDIS_URL S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY; do
			[ -n "${!name:-}" ] || { log "CLUSTER_SERVERS=given but $name is not set"; exit 1; }
			echo "export $name=${!name}"
		done
	else
		# The servers' addresses and credentials, TRANSPORTER (NATS with its user and password) among them.
		bash "$ROOT/scripts/servers.sh" env
	fi
	echo "export JWT_SECRET=${JWT_SECRET:-$(cat "$secret_file")}"
	echo "export PORT=$API_PORT"
	echo "export LOG_LEVEL=${LOG_LEVEL:-warn}"
	echo "export DATA_DIR=$DIR/data"
}

stop() {
	local pid file
	for file in "$DIR"/*.pid; do
		[ -e "$file" ] || continue
		pid=$(cat "$file")
		kill -TERM "$pid" 2>/dev/null || true
	done
	for file in "$DIR"/*.pid; do
		[ -e "$file" ] || continue
		pid=$(cat "$file")
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$file"
	done
	log "stopped"
}

launch() {
	local name="$1" i="$2" n="$3" node_id="$1-$2"
	(
		cd "$ROOT"
		SERVICES="$name" SERVICEDIR=dist/services NODE_ID="$node_id" PORT="$((API_PORT + i - 1))" \
			HEALTH_PORT="$((HEALTH_PORT_BASE + n))" METRICS_PORT="$((METRICS_PORT_BASE + n))" \
			PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-}" \
			exec node node_modules/moleculer/bin/moleculer-runner.js --config dist/moleculer.config.js \
			>"$DIR/$node_id.log" 2>&1
	) &
	echo $! >"$DIR/$node_id.pid"
}

wait_ready() {
	local node_id="$1" port="$2"
	for _ in $(seq 1 300); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/ready" 2>/dev/null && return
		kill -0 "$(cat "$DIR/$node_id.pid")" 2>/dev/null || break
		sleep 0.2
	done
	log "$node_id is not ready (health port $port); its log:"
	tail -n 20 "$DIR/$node_id.log" >&2
	exit 1
}

start() {
	ensure_build
	[ "${CLUSTER_SERVERS:-}" = given ] || bash "$ROOT/scripts/servers.sh" start >/dev/null
	stop 2>/dev/null
	eval "$(cluster_env)"
	local name i port n=0 round max=1 targets=() launched=()
	for name in "${SERVICES[@]}"; do [ "${REPLICAS[$name]:-1}" -gt "$max" ] && max="${REPLICAS[$name]}"; done
	# One round per replica index, each round ready before the next: the first replicas
	# create the databases (FerretDB 1.x breaks a collection two clients create at once).
	for round in $(seq 1 "$max"); do
		launched=()
		for name in "${SERVICES[@]}"; do
			[ "${REPLICAS[$name]:-1}" -ge "$round" ] || continue
			launch "$name" "$round" "$n"
			launched+=("$name-$round:$((HEALTH_PORT_BASE + n))")
			targets+=("{\"targets\":[\"127.0.0.1:$((METRICS_PORT_BASE + n))\"],\"labels\":{\"node\":\"$name-$round\",\"service\":\"$name\",\"health_port\":\"$((HEALTH_PORT_BASE + n))\"}}")
			n=$((n + 1))
		done
		for i in "${launched[@]}"; do wait_ready "${i%%:*}" "${i##*:}"; done
	done
	(IFS=,; echo "[${targets[*]}]") >"$DIR/targets.json"
	for i in $(seq 1 "${REPLICAS[api]}"); do
		port=$((API_PORT + i - 1))
		for _ in $(seq 1 150); do
			curl -fsS "http://127.0.0.1:$port/douyin/feed/" 2>/dev/null | grep -q '"status_code":0' && break
			sleep 0.2
		done
		curl -fsS "http://127.0.0.1:$port/douyin/feed/" 2>/dev/null | grep -q '"status_code":0' ||
			{ log "api-$i on :$port does not answer; logs in $DIR"; exit 1; }
	done
	log "up: API on http://127.0.0.1:$API_PORT (and :$((API_PORT + 1))), logs in $DIR"
}

status() {
	local file name
	for file in "$DIR"/*.pid; do
		[ -e "$file" ] || { log "not running"; return; }
		name=$(basename "$file" .pid)
		if kill -0 "$(cat "$file")" 2>/dev/null; then echo "$name running (pid $(cat "$file"))"; else echo "$name dead"; fi
	done
}

case "${1:-start}" in
	start) start ;;
	stop) stop ;;
	status) status ;;
	env) cluster_env ;;
	*) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
