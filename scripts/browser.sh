#!/usr/bin/env bash
# The browser the web client's tests drive: Debian's Chromium (apt), not a build that an
# npm package downloads from its own servers (those servers are unreachable here).
#
#   bash scripts/browser.sh install   # installs chromium with apt-get when missing (idempotent)
#   bash scripts/browser.sh path      # prints the executable, fails when it is missing
#
# CHROMIUM_PATH overrides the executable (default /usr/bin/chromium).
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

works() { [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; }

case "${1:-}" in
install)
	if works; then
		echo "chromium: $("$CHROMIUM" --version 2>/dev/null)" >&2
		exit 0
	fi
	as_root=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "browser.sh: installing chromium needs root (apt-get install -y chromium)" >&2; exit 1; }
		as_root=(sudo -n)
	fi
	echo "browser.sh: installing Debian's chromium (apt-get)" >&2
	export DEBIAN_FRONTEND=noninteractive
	# The package lists may be missing or stale on a fresh machine: update once, then install.
	"${as_root[@]}" apt-get install -y --no-install-recommends chromium >&2 \
		|| { "${as_root[@]}" apt-get update >&2 && "${as_root[@]}" apt-get install -y --no-install-recommends chromium >&2; }
	works || { echo "browser.sh: $CHROMIUM does not run after the install" >&2; exit 1; }
	echo "chromium: $("$CHROMIUM" --version 2>/dev/null)" >&2
	;;
path)
	works || { echo "browser.sh: no working Chromium at $CHROMIUM: run \`bash scripts/browser.sh install\`" >&2; exit 1; }
	echo "$CHROMIUM"
	;;
*)
	echo "usage: bash scripts/browser.sh install|path" >&2
	exit 2
	;;
esac
