#!/usr/bin/env bash
# The real servers of the `servers` tests and of a local cluster, on loopback:
#   NATS 127.0.0.1:$NATS_PORT (4322; with a user and a generated password, so a client without
#   them is refused), Redis 127.0.0.1:6379, FerretDB 1.24 (MongoDB wire protocol, on the
#   machine's PostgreSQL) 127.0.0.1:27017, and Versity S3 Gateway (S3, objects as files)
#   127.0.0.1:$S3_PORT (7070).
# `install` also installs Prometheus, Helm and the k8s validator, which tests run themselves.
#
#   scripts/servers.sh install   install what is missing (idempotent, cached)
#   scripts/servers.sh start     install, start what is not already answering, wait for all,
#                                and print the env to use (eval "$(scripts/servers.sh start)")
#   scripts/servers.sh stop      stop the servers this script started (reused ones stay up)
#   scripts/servers.sh status    which servers answer
#   scripts/servers.sh env       print the env to use (without starting anything)
#
# A server already answering on its port is reused. Binaries built from Go go to
# $MOLETOK_CACHE/bin; data, logs and pid files to $MOLETOK_STATE. Progress goes to stderr.
#
# Env:
#   MOLETOK_CACHE        cache directory (default ~/.cache/moletok, as in scripts/env.sh)
#   MOLETOK_STATE        data, logs and pid files (default $MOLETOK_CACHE/state)
#   NATS_PORT            port of the project's own NATS (default 4322; the machine's NATS on
#                        4222, without authentication, is left alone)
#   S3_PORT              port of the S3 gateway (default 7070)
#   S3_ROOT_USER         its access key (default "moletok"; test credentials only)
#   S3_ROOT_PASSWORD     its secret key (default "moletok-secret")
#   SERVERS_WAIT_SECONDS how long `start` waits for each server (default 60)
set -euo pipefail

export MOLETOK_CACHE="${MOLETOK_CACHE:-$HOME/.cache/moletok}"
STATE="${MOLETOK_STATE:-$MOLETOK_CACHE/state}"
BIN="$MOLETOK_CACHE/bin"
NATS_PORT="${NATS_PORT:-4322}"
S3_PORT="${S3_PORT:-7070}"
S3_ROOT_USER="${S3_ROOT_USER:-moletok}"
S3_ROOT_PASSWORD="${S3_ROOT_PASSWORD:-moletok-secret}"
WAIT_SECONDS="${SERVERS_WAIT_SECONDS:-60}"
FERRETDB_VERSION=v1.24.2
VERSITYGW_VERSION=v1.8.0
NATS_USER=moletok
# The NATS password is generated once per cache (not per state directory): every clone that
# finds the server already answering on $NATS_PORT must be able to log in to it.
NATS_PASSWORD_FILE="$MOLETOK_CACHE/nats-password"
SERVERS=(nats redis ferretdb s3)

log() { echo "servers: $*" >&2; }
die() { log "$*"; exit 1; }

# --- installing ---------------------------------------------------------------------------

apt_updated=false
apt_install() {
	local missing=() pkg
	for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
	[ ${#missing[@]} -eq 0 ] && return
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	log "installing Debian packages: ${missing[*]}"
	if ! $apt_updated; then
		$sudo apt-get update -qq >&2
		apt_updated=true
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

go_cmd() {
	command -v go 2>/dev/null || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || die "Go is required to build $1 (looked in PATH and /usr/local/go/bin)"
}

# FerretDB needs build/version/version.txt, which the published module lacks, and the Go proxy
# refuses its version list (so `go install …@v1.24.2` fails): build a patched copy of the module.
install_ferretdb() {
	"$BIN/ferretdb" --version 2>/dev/null | grep -qx "version: $FERRETDB_VERSION" && return
	local go src tmp
	go="$(go_cmd FerretDB)"
	log "building FerretDB $FERRETDB_VERSION into $BIN (a few minutes the first time)"
	src="$("$go" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
	[ -d "$src" ] || die "could not download github.com/FerretDB/FerretDB@$FERRETDB_VERSION"
	tmp="$(mktemp -d)"
	cp -r "$src" "$tmp/ferretdb" && chmod -R u+w "$tmp/ferretdb"
	echo "$FERRETDB_VERSION" >"$tmp/ferretdb/build/version/version.txt"
	(cd "$tmp/ferretdb" && "$go" build -trimpath -o "$BIN/ferretdb.new" ./cmd/ferretdb) >&2
	mv "$BIN/ferretdb.new" "$BIN/ferretdb"
	rm -rf "$tmp"
}

# Versity S3 Gateway: one Go binary serving S3 from a directory (its posix backend).
install_versitygw() {
	"$BIN/versitygw" --version 2>/dev/null | grep -Eq "^Version *: $VERSITYGW_VERSION\$" && return
	log "building Versity S3 Gateway $VERSITYGW_VERSION into $BIN (a few minutes the first time)"
	GOBIN="$BIN" GOTOOLCHAIN=local CGO_ENABLED=0 "$(go_cmd "Versity S3 Gateway")" install -trimpath \
		-ldflags "-X main.Version=$VERSITYGW_VERSION" "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
}

install() {
	mkdir -p "$BIN"
	apt_install nats-server redis-server prometheus
	install_ferretdb
	install_versitygw
	# Helm and the offline Kubernetes schema validator, for the chart tests.
	bash "$(dirname "${BASH_SOURCE[0]}")/deploy-tools.sh" install >&2
}

# --- probes: each succeeds when the server answers its own protocol -------------------------

addr_of() {
	case "$1" in
	nats) echo "127.0.0.1:$NATS_PORT" ;;
	redis) echo 127.0.0.1:6379 ;;
	ferretdb) echo 127.0.0.1:27017 ;;
	s3) echo "127.0.0.1:$S3_PORT" ;;
	esac
}

# Sends the MongoDB wire-protocol command {ping: 1, $db: "admin"} (OP_MSG) and checks that an
# OP_MSG (opCode 2013) comes back, so no MongoDB client is needed.
mongo_ping() {
	(
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf '\x33\0\0\0\x01\0\0\0\0\0\0\0\xdd\x07\0\0\0\0\0\0\0' >&3
		printf '\x1e\0\0\0\x10ping\0\x01\0\0\0\x02$db\0\x06\0\0\0admin\0\0' >&3
		[[ "$(timeout 2 head -c 16 <&3 | od -An -tx1 | tr -d ' \n')" == *dd070000 ]]
	) 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

nats_password() {
	if [ ! -s "$NATS_PASSWORD_FILE" ]; then
		mkdir -p "$(dirname "$NATS_PASSWORD_FILE")"
		(umask 077 && tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 >"$NATS_PASSWORD_FILE")
	fi
	cat "$NATS_PASSWORD_FILE"
}

# NATS that requires authentication and accepts ours: CONNECT with them, then PING wants PONG.
nats_answers() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT" || exit 1
		IFS= read -r -t 2 line <&3 && [[ $line == INFO*'"auth_required":true'* ]] || exit 1
		printf 'CONNECT {"verbose":false,"user":"%s","pass":"%s"}\r\nPING\r\n' "$NATS_USER" "$(nats_password)" >&3
		IFS= read -r -t 2 line <&3 && [[ $line == PONG* ]]
	) 2>/dev/null
}

answers() {
	local line
	case "$1" in
	nats) nats_answers ;;
	redis) (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && IFS= read -r -t 2 line <&3 && [[ $line == +PONG* ]]) 2>/dev/null ;;
	ferretdb) mongo_ping 127.0.0.1 27017 ;;
	s3) curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$S3_PORT/_/health" 2>/dev/null ;;
	esac
}

# --- running ------------------------------------------------------------------------------

FERRETDB_PG_URL="${FERRETDB_PG_URL:-postgres://postgres@127.0.0.1:5432/ferretdb}"

# FerretDB's backend: the machine's PostgreSQL (started when installed but stopped,
# installed from Debian when missing), with a `ferretdb` database.
ensure_postgres() {
	local psql=(psql -h 127.0.0.1 -U postgres -d postgres -tAc)
	if ! "${psql[@]}" "select 1" >/dev/null 2>&1; then
		command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
		local version
		version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
		[ -n "$version" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
		log "postgresql: starting cluster $version/main"
		pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
		for _ in $(seq 1 40); do "${psql[@]}" "select 1" >/dev/null 2>&1 && break; sleep 0.5; done
		"${psql[@]}" "select 1" >/dev/null 2>&1 ||
			die "postgresql does not accept 'psql -h 127.0.0.1 -U postgres' (FerretDB needs it; trust auth on loopback)"
	fi
	[ "$("${psql[@]}" "select 1 from pg_database where datname = 'ferretdb'")" = 1 ] || "${psql[@]}" "create database ferretdb" >/dev/null
}

pid_of() {
	local pid
	pid="$(cat "$STATE/$1.pid" 2>/dev/null)" || return 1
	kill -0 "$pid" 2>/dev/null && echo "$pid"
}

launch() {
	local name="$1"
	shift
	mkdir -p "$STATE/$name"
	# setsid: the server outlives this script and the shell or job that ran it.
	setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
	echo $! >"$STATE/$name.pid"
}

start_one() {
	local name="$1" addr
	addr="$(addr_of "$name")"
	if answers "$name"; then
		log "$name: already answering on $addr, reusing it"
		return
	fi
	local what="$name"
	[ "$name" = nats ] && what="NATS that accepts the user $NATS_USER with the password in $NATS_PASSWORD_FILE"
	port_open "$addr" && die "$name: $addr is taken by something that does not answer as $what; stop it first"
	log "$name: starting on $addr (log $STATE/$name.log)"
	case "$name" in
	nats)
		# The password goes into a config file only this user reads, not onto the command line.
		mkdir -p "$STATE/nats"
		(umask 077 && printf 'listen: "127.0.0.1:%s"\nauthorization {\n  user: "%s"\n  password: "%s"\n}\n' \
			"$NATS_PORT" "$NATS_USER" "$(nats_password)" >"$STATE/nats/nats.conf")
		launch nats "$(command -v nats-server || echo /usr/sbin/nats-server)" -c "$STATE/nats/nats.conf"
		;;
	redis) launch redis "$(command -v redis-server || echo /usr/bin/redis-server)" --bind 127.0.0.1 --port 6379 --dir "$STATE/redis" ;;
	ferretdb)
		# The PostgreSQL backend: FerretDB 1.24's SQLite backend panics ("slice bounds out of
		# range") when several clients create databases and indexes at once, as a cluster does.
		ensure_postgres
		launch ferretdb "$BIN/ferretdb" --handler=pg --postgresql-url="$FERRETDB_PG_URL" --state-dir="$STATE/ferretdb" \
			--listen-addr=127.0.0.1:27017 --telemetry=disable --debug-addr=- --log-level=WARN
		;;
	s3)
		# Buckets are directories of $STATE/s3, objects files in them (metadata in xattrs).
		mkdir -p "$STATE/s3"
		ROOT_ACCESS_KEY="$S3_ROOT_USER" ROOT_SECRET_KEY="$S3_ROOT_PASSWORD" \
			launch s3 "$BIN/versitygw" --port "127.0.0.1:$S3_PORT" --health /_/health --quiet posix "$STATE/s3"
		;;
	esac
}

wait_for() {
	local name="$1" deadline=$((SECONDS + WAIT_SECONDS))
	until answers "$name"; do
		local problem=""
		pid_of "$name" >/dev/null || problem="exited before answering"
		[ $SECONDS -lt $deadline ] || problem="did not answer within ${WAIT_SECONDS}s"
		if [ -n "$problem" ]; then
			tail -n 20 "$STATE/$name.log" >&2 2>/dev/null || true
			die "$name $problem on $(addr_of "$name") (log: $STATE/$name.log)"
		fi
		sleep 0.5
	done
}

print_env() {
	echo "export MONGO_URI=mongodb://127.0.0.1:27017 REDIS_URL=redis://127.0.0.1:6379" \
		"TRANSPORTER=nats://$NATS_USER:$(nats_password)@127.0.0.1:$NATS_PORT" \
		"S3_ENDPOINT=http://127.0.0.1:$S3_PORT S3_ACCESS_KEY=$S3_ROOT_USER S3_SECRET_KEY=$S3_ROOT_PASSWORD"
}

start() {
	install
	mkdir -p "$STATE"
	local name
	for name in "${SERVERS[@]}"; do start_one "$name"; done
	for name in "${SERVERS[@]}"; do answers "$name" || wait_for "$name"; done
	log "all servers answer"
	print_env
}

stop() {
	local name pid
	for name in "${SERVERS[@]}"; do
		if pid="$(pid_of "$name")"; then
			log "$name: stopping pid $pid"
			kill "$pid"
			for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
			kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		fi
		rm -f "$STATE/$name.pid"
	done
}

status() {
	local name pid down=0
	for name in "${SERVERS[@]}"; do
		if answers "$name"; then
			pid="$(pid_of "$name")" && log "$name: up on $(addr_of "$name") (pid $pid)" || log "$name: up on $(addr_of "$name") (not started by this script)"
		else
			log "$name: down"
			down=1
		fi
	done
	[ $down -eq 0 ] && print_env
	return $down
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
status) status ;;
env) print_env ;;
*) die "usage: $0 install|start|stop|status|env" ;;
esac
