# Helpers for the http-check e2e scripts (t05*-http-*.sh), on top of
# lib/common.sh and run/lib.sh: a local server with no proxy in between,
# what it saw, and the reasons and log lines of the checks.
# shellcheck shell=bash

# Sets, for the scripts: SRV, SRV_PID, PORT.
# shellcheck disable=SC2034
need python3
# The servers are local: no proxy may stand in between.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

SRV=$tmp/server
mkdir -p "$SRV"

# stamp: copies stdin to stdout, each line after the time it came
# ($EPOCHREALTIME: seconds since the epoch; no process per line).
stamp() {
	local line
	while IFS= read -r line; do
		echo "$EPOCHREALTIME $line"
	done
}

# port_known: the server has said its port: in $SRV/port (the servers of
# tests/e2e/http/), or on stdout, as `python3 -m http.server` does.
port_known() {
	[ -s "$SRV/port" ] || grep -q ' port [0-9]' "$SRV/out" 2>/dev/null
}

# serve COMMAND...: starts a server in the background, its stdout in
# $SRV/out and its stderr in $SRV/stderr, each line stamped (stamp); it is
# killed when the script ends. Waits, bounded, until it says its port and
# sets PORT; when it does not, the script ends there.
serve() {
	"$@" >"$SRV/out" 2> >(stamp >"$SRV/stderr") &
	SRV_PID=$!
	at_exit 'kill -KILL "$SRV_PID" 2>/dev/null'
	if ! wait_until 10 port_known; then
		fail "the test server did not start: $(cat "$SRV/out" "$SRV/stderr")"
		finish
		exit 1
	fi
	if [ -s "$SRV/port" ]; then
		PORT=$(cat "$SRV/port")
	else
		PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$SRV/out" | head -1)
	fi
}

# stop_server: kills the server and waits for it.
stop_server() {
	kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
}

# requests_to PATH: how many requests the server got for PATH (the
# servers of tests/e2e/http/ log them to $SRV/requests).
requests_to() {
	awk -v p="$1" '$2 == p { n++ } END { print n + 0 }' "$SRV/requests" 2>/dev/null
}

# reason_is DESCRIPTION WORKFLOW WANT: the workflow's last workflow.finished
# has exactly this reason.
reason_is() {
	local got
	got=$(jq -r --arg w "$2" 'select(.event == "workflow.finished" and .workflow == $w) | .reason' \
		"$EVENTS" 2>/dev/null | tail -1)
	[ "$got" = "$3" ]
	_result $? "$1" "reason '$got', want '$3'"
}

# lines_matching FILE REGEX: how many lines of FILE match (grep -E).
lines_matching() { grep -cE -- "$2" "$1" 2>/dev/null || true; }
