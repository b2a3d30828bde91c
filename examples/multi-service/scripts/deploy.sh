#!/bin/sh
# deploy.sh SERVICE VERSION [PORT]: install release VERSION of SERVICE on
# this machine and make it the current one in a single atomic step; with
# PORT, also (re)start the service, serving it on http://127.0.0.1:PORT/.
#
# Layout, under $DEPLOY_ROOT (default: ./deploy-root):
#   SERVICE/releases/VERSION/   the release: VERSION and index.html
#   SERVICE/current             symlink to releases/VERSION (what is served)
#   SERVICE/previous            the undo record, read by rollback.sh:
#                                 run=RUN ID of the deploy (LOCKSTEP_RUN_ID)
#                                 previous=what `current` pointed to before
#                                 (empty: nothing)
#   SERVICE/service.pid         the service's pid (with PORT)
#   SERVICE/service.log         its request log
#
# The service is a static HTTP server (python3 -m http.server) on
# 127.0.0.1:PORT that serves SERVICE/current: after a switch of `current`,
# by a later deploy or by rollback.sh, it serves the new target from the
# next request on. Each deploy stops the instance an earlier deploy
# started and starts a new one, in a session of its own, so that it
# outlives this script. Under lockstep it lives until the run ends:
# lockstep stops whatever a run's steps leave running.
#
# Set FAIL=1 to make the deploy fail before it changes anything: the
# examples use it to show a failure and the rollbacks that follow.
set -eu

prog=deploy.sh
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $prog SERVICE VERSION [PORT]" >&2
	exit 2
fi
service=$1
version=$2
port=${3:-}
case $service in '' | . | .. | */* | .*) die "invalid service name '$service'" ;; esac
case $version in '' | . | .. | */* | .*) die "invalid version '$version'" ;; esac
case $port in
'') ;;
*[!0-9]* | 0*) die "invalid port '$port'" ;;
*) [ "$port" -le 65535 ] || die "invalid port '$port'" ;;
esac

# Under lockstep, the workflow's environment (environments: in the
# pipeline file) says where the service goes. A real deploy would run
# kubectl --context "$LOCKSTEP_KUBE_CONTEXT" -n "$LOCKSTEP_NAMESPACE";
# this one deploys to local files and only reports it.
if [ -n "${LOCKSTEP_ENV:-}" ]; then
	echo "$prog: $service: environment $LOCKSTEP_ENV (context ${LOCKSTEP_KUBE_CONTEXT:-none}, namespace ${LOCKSTEP_NAMESPACE:-none})"
fi

dir=${DEPLOY_ROOT:-./deploy-root}/$service
mkdir -p "$dir/releases" || die "$service: cannot create $dir/releases"

# A new deploy starts: forget the undo record of the last one, so that a
# rollback after a failure below does not undo an older, good deploy.
rm -f "$dir/previous" || die "$service: cannot remove $dir/previous"

if [ "${FAIL:-0}" = 1 ]; then
	die "$service $version: failing as asked (FAIL=1); nothing was changed"
fi

if [ -n "$port" ]; then
	# With PORT, before anything changes: stop the instance an earlier
	# deploy started, if it still runs (under lockstep it ended with its
	# run; outside, it may not have): the pid is trusted only if that
	# process is our server of this service, and the port is free once it
	# is gone. Then make sure nothing else listens there.
	abs=$(cd "$dir" && pwd) || die "$service: cannot resolve $dir"
	if [ -f "$dir/service.pid" ]; then
		old=$(cat "$dir/service.pid")
		case $old in '' | *[!0-9]*) old= ;; esac
		# 2>/dev/null before <: redirections apply left to right, and
		# dash reports a file it cannot open on the stderr of the moment.
		if [ -n "$old" ] && tr '\0' ' ' 2>/dev/null <"/proc/$old/cmdline" | grep -qF -- "--directory $abs/current"; then
			kill "$old" 2>/dev/null || true
			tries=0
			while kill -0 "$old" 2>/dev/null; do
				tries=$((tries + 1))
				[ "$tries" -le 50 ] || die "$service: the old service (pid $old) does not stop"
				sleep 0.1
			done
			echo "$prog: $service: stopped the old service (pid $old)"
		fi
		rm -f "$dir/service.pid"
	fi
	command -v python3 >/dev/null || die "$service: python3 is needed to serve $service"
	# A port another program listens on would make the new service exit
	# at once, and the check after the deploy wait for nothing: say so now,
	# with nothing changed.
	python3 - "$port" 2>/dev/null <<'PY' ||
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
PY
		die "$service: port $port on 127.0.0.1 is in use by another program; nothing was changed (the pipeline's vars backend_port and frontend_port choose the ports)"
fi

# Build the release under a temporary name and rename it into place, so
# that releases/VERSION is never seen half written.
release=releases/$version
if [ ! -d "$dir/$release" ]; then
	tmp=$dir/releases/.tmp-$version-$$
	rm -rf "$tmp"
	mkdir "$tmp" || die "$service: cannot create $tmp"
	printf '%s\n' "$version" >"$tmp/VERSION"
	cat >"$tmp/index.html" <<HTML
<!doctype html>
<html><head><title>$service $version</title></head>
<body><h1>$service</h1><p>version $version</p></body></html>
HTML
	mv "$tmp" "$dir/$release" || die "$service: cannot install $release"
fi

# Record the undo information first, then switch. A crash in between
# leaves `previous` naming the release that is still current: harmless.
prev=
if [ -L "$dir/current" ]; then
	prev=$(readlink "$dir/current")
fi
printf 'run=%s\nprevious=%s\n' "${LOCKSTEP_RUN_ID:-}" "$prev" >"$dir/previous.tmp"
mv -f "$dir/previous.tmp" "$dir/previous" || die "$service: cannot record the previous release"

# rename(2) over the old symlink: readers see the old release or the new
# one, never a missing `current`.
ln -sfn "$release" "$dir/current.tmp-$$"
mv -T "$dir/current.tmp-$$" "$dir/current" || die "$service: cannot switch current to $release"

echo "$prog: $service: current -> $release (was: ${prev:-nothing})"

[ -n "$port" ] || exit 0

# The service: started on PORT, serving `current`; it runs on after this
# script, until the run ends (lockstep stops what steps leave running
# then). setsid: a session of its own, so that nothing aimed at the
# deploy step's process group (its timeout) reaches a service that is
# up. The shell in between writes the server's own pid before it becomes
# the server.
# shellcheck disable=SC2016 # expanded by the inner shell
setsid sh -c 'echo $$ >"$1/service.pid"; exec python3 -m http.server "$2" --bind 127.0.0.1 --directory "$1/current"' \
	sh "$abs" "$port" </dev/null >"$dir/service.log" 2>&1 &
tries=0
while [ ! -s "$dir/service.pid" ]; do
	tries=$((tries + 1))
	[ "$tries" -le 50 ] || die "$service: the service did not start (see $dir/service.log)"
	sleep 0.1
done
echo "$prog: $service: serving $release on http://127.0.0.1:$port/ (pid $(cat "$dir/service.pid"))"
