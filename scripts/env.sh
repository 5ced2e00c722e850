# Sourced by every script: puts Node >= 22 on PATH (installing Node 24 from the npm
# registry into the cache when the system Node is older), installs the npm
# dependencies when package-lock.json changed since the last install, and (ensure_build)
# a current ffmpeg.
# Cache: $MOLETOK_CACHE (default ~/.cache/moletok), shared by every clone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MOLETOK_CACHE="${MOLETOK_CACHE:-$HOME/.cache/moletok}"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
	tools="$MOLETOK_CACHE/node24"
	if [ ! -x "$tools/node_modules/.bin/node" ]; then
		echo "moletok: system Node is $(node --version 2>/dev/null || echo missing); installing Node 24 into $tools" >&2
		mkdir -p "$tools"
		npm install --prefix "$tools" --no-save --no-package-lock --loglevel=error node@24 >&2
	fi
	export PATH="$tools/node_modules/.bin:$PATH"
fi

ensure_deps() {
	local stamp="$ROOT/node_modules/.moletok-lock"
	if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/package-lock.json" "$stamp"; then
		echo "moletok: installing npm dependencies (npm ci: exactly the locked tree)" >&2
		# `npm ci` never writes package-lock.json (so a first `npm start` leaves `git status`
		# clean, whatever ~/.npmrc says) and fails when the lock and package.json disagree.
		(cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
		cp "$ROOT/package-lock.json" "$stamp"
	fi
}

# A current ffmpeg/ffprobe (scripts/ffmpeg.sh builds one into the cache, once), unless
# FFMPEG_PATH / FFPROBE_PATH name others.
ensure_ffmpeg() {
	[ -n "${FFMPEG_PATH:-}" ] && [ -n "${FFPROBE_PATH:-}" ] && return
	local given_ffmpeg="${FFMPEG_PATH:-}" given_ffprobe="${FFPROBE_PATH:-}"
	eval "$(bash "$ROOT/scripts/ffmpeg.sh" env)"
	export FFMPEG_PATH="${given_ffmpeg:-$FFMPEG_PATH}" FFPROBE_PATH="${given_ffprobe:-$FFPROBE_PATH}"
}

ensure_build() {
	ensure_deps
	ensure_ffmpeg
	(cd "$ROOT" && npx tsc -p tsconfig.build.json)
	ensure_web
}

# The web client and the API reference (dist/web), rebuilt only when their sources changed:
# the Vite build and the client's type check take a few seconds of the machine's two cores.
ensure_web() {
	local stamp="$ROOT/dist/.web-sources" sources
	sources="$(cd "$ROOT" && find web lib/wire.ts docs/openapi.json package-lock.json -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum)"
	if [ ! -f "$ROOT/dist/web/index.html" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sources" ]; then
		echo "moletok: building the web client (dist/web)" >&2
		(cd "$ROOT" && npm run --silent build:web >&2)
		echo "$sources" > "$stamp"
	fi
}
