#!/bin/bash
# t0125-demo: `make demo` (examples/multi-service/demo.sh) and the scripts
# of its example, as a new user meets them.
#   1. the demo succeeds, and every command it prints after "$ " is the
#      command it ran, state directory included: pasted into a shell,
#      each one works; so do the commands it prints at the end to read
#      the runs back (`show last`, `logs last frontend-deploy`);
#   2. deploy.sh, run by dash, says nothing about a service.pid whose
#      process is gone (it printed "cannot open /proc/N/cmdline").
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs python3 and dash.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE
EX=$SRC/examples/multi-service
ms_ports

# ---- 1. the demo ----
scenario demo
DEMO_DIR=$tmp/demo timeout -k 2 120 sh "$EX/demo.sh" "$LOCKSTEP" "${MS_PORTS[@]}" >"$tmp/demo.out" 2>&1 </dev/null
rc=$?
expect_rc 0
grep '^\$ ' "$tmp/demo.out" | sed 's/^\$ //' >"$tmp/commands"
nruns=$(grep -c " run " "$tmp/commands")
if [ "$nruns" -eq 3 ] && [ "$(grep " run " "$tmp/commands" | grep -c -- "--state $tmp/demo/state")" -eq 3 ]; then
	pass "each of the 3 runs it prints names the state directory it used"
else
	fail "the printed runs do not all name --state $tmp/demo/state"
	sed 's/^/     | /' "$tmp/commands"
fi
if [ "$(grep " run " "$tmp/commands" | grep -c "^DEPLOY_ROOT=$tmp/demo/deploy-root ")" -eq 3 ]; then
	pass "each printed run names where it deploys (DEPLOY_ROOT)"
else
	fail "the printed runs do not all name DEPLOY_ROOT=$tmp/demo/deploy-root"
fi
# Pasted: the commands that read the runs back, and the checks.
pasted() { # DESCRIPTION WANT-EXIT PATTERN TEXT: run the printed command matching PATTERN
	local line got
	line=$(grep -E -m1 -- "$3" "$tmp/commands")
	if [ -z "$line" ]; then
		fail "$1: the demo printed no command matching '$3'"
		return
	fi
	got=$(cd "$tmp" && sh -c "$line" 2>&1)
	rc=$?
	if [ "$rc" -eq "$2" ] && grep -qF -- "$4" <<<"$got"; then
		pass "$1 (exit $rc)"
	else
		fail "$1: '$line' exited $rc (want $2), output lacks '$4'"
		head -5 <<<"$got" | sed 's/^/     | /'
	fi
}
pasted "the printed check of pipeline.yml" 0 ' check .*/pipeline\.yml$' "pipeline.yml: ok"
pasted "the printed check of the deadlock" 3 ' check .*/pipeline-swapped\.yml' "barrier deadlock"
pasted "the printed runs" 0 ' runs --state ' "multi-service-frontend-fails"
pasted "the printed show last" 0 ' show last ' "run 3 of multi-service-frontend-fails: failed"
pasted "the printed logs last frontend-deploy" 0 ' logs last frontend-deploy ' "failing as asked (FAIL=1)"

# ---- 2. deploy.sh under dash ----
scenario deploy-dash
if ! command -v dash >/dev/null; then
	fail "dash is needed (Debian's /bin/sh)"
	finish
	exit
fi
root=$tmp/root
mkdir -p "$root/web"
# A pid no process has (past the kernel's pid_max).
echo 99999999 >"$root/web/service.pid"
(cd "$EX" && DEPLOY_ROOT=$root timeout -k 2 30 dash ./scripts/deploy.sh web 1.0.0 "$MS_BACKEND_PORT") \
	>"$tmp/deploy.out" 2>"$tmp/deploy.err" </dev/null
rc=$?
[ -s "$root/web/service.pid" ] && kill "$(cat "$root/web/service.pid")" 2>/dev/null
expect_rc 0
if [ -s "$tmp/deploy.err" ]; then
	fail "deploy.sh wrote to stderr: $(head -3 "$tmp/deploy.err")"
else
	pass "nothing on stderr about the old service.pid"
fi
if grep -q "serving releases/1.0.0 on http://127.0.0.1:$MS_BACKEND_PORT/" "$tmp/deploy.out"; then
	pass "the service was started"
else
	fail "the service was not started: $(cat "$tmp/deploy.out")"
fi

finish
