#!/bin/sh
# Installs the Debian packages named on the command line that are missing.
# An argument COMMAND:PACKAGE names a package needed only for its command:
# it is installed only when COMMAND is not on PATH (whatever provides it).
# Idempotent: does nothing when everything is installed.
set -eu
missing=""
for p in "$@"; do
	case $p in
	*:*)
		command -v "${p%%:*}" >/dev/null 2>&1 && continue
		p=${p#*:}
		;;
	esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all build and test prerequisites are installed"
	exit 0
fi
echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: error: installing packages needs root or sudo; run as root, or install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
