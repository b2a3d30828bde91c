# The harness of every e2e script (tests/README is the guide): finds the
# binary and the sources, makes a scratch directory and works in it,
# counts checks and prints the closing summary, reports a skip to CTest,
# and has one helper for each kind of check. tests/e2e/run/lib.sh adds what
# the `lockstep run` scripts share.
#
# A script: `set -u`, `. "$(dirname "$0")/lib/common.sh"`, checks, then
# `finish` as its last command (its status is the script's).
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are for the scripts

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=${LOCKSTEP_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}
LOCKSTEP=${LOCKSTEP:-$SRC/build/lockstep}
case $LOCKSTEP in /*) ;; *) LOCKSTEP=$PWD/$LOCKSTEP ;; esac
export NO_COLOR=1
# The longest any single lockstep invocation may take before it is killed
# and counted as a failure (a script must end well within its CTest
# timeout).
RUN_BOUND=${RUN_BOUND:-20}
# CTest's SKIP_RETURN_CODE for the e2e scripts (tests/CMakeLists.txt).
SKIP_RC=77

PASSED=0
FAILED=0
FAILURES=()
SCENARIO=""
CASE=""

# ---- the end: summary, skips, cleanup ----

# finish: prints the summary (and what failed) and returns non-zero when a
# check failed, or when none ran at all: a script that checked nothing
# has not passed. The last command of every script.
finish() {
	echo
	if [ "$FAILED" -gt 0 ]; then
		echo "failed:"
		printf '  %s\n' "${FAILURES[@]}"
	fi
	echo "$PASSED passed, $FAILED failed"
	if [ $((PASSED + FAILED)) -eq 0 ]; then
		echo "no check ran: nothing was tested" >&2
		return 1
	fi
	[ "$FAILED" -eq 0 ]
}

# skip_all REASON: the whole script cannot run here (no root, no tmpfs):
# says why and exits with $SKIP_RC, which CTest reports as skipped, never
# as passed. Only before the first check: a script that has checked
# something must report it, so a later skip is a failure of the script.
skip_all() {
	if [ $((PASSED + FAILED)) -ne 0 ]; then
		fail "skip_all after $((PASSED + FAILED)) checks (a skippable scenario belongs in a script of its own): $1"
		finish
		exit 1
	fi
	echo "# skipped: $1"
	exit "$SKIP_RC"
}

# need TOOL...: each TOOL is on PATH. A missing one ends the script as a
# failure, never as a skip: `make deps` installs every one of them.
need() {
	local t missing=""
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	[ -z "$missing" ] && return 0
	fail "needed on PATH:$missing (make deps installs them)"
	finish
	exit 1
}

# at_exit COMMAND: runs COMMAND (a string, eval'd) when the script ends,
# the latest registered first, before the scratch directory is removed:
# for processes and mounts that must not outlive the script.
AT_EXIT=()
at_exit() {
	AT_EXIT=("$1" "${AT_EXIT[@]}")
}
_exit_hooks() {
	local h
	for h in "${AT_EXIT[@]}"; do
		eval "$h"
	done
	# For a post-mortem: LOCKSTEP_KEEP=DIR keeps a copy of the scratch
	# directory (events, logs, state, what the steps wrote) in DIR.
	[ -n "${LOCKSTEP_KEEP:-}" ] && cp -R "$tmp" "$LOCKSTEP_KEEP"
	cd / && rm -rf "$tmp"
}

# mount_tmpfs DIR OPTIONS: mounts a tmpfs on DIR (made if need be),
# unmounted when the script ends; false when it cannot (not root, or no
# mounts allowed). Scripts that need one call skip_all when it fails.
mount_tmpfs() {
	[ "$(id -u)" -eq 0 ] || return 1
	mkdir -p "$1" && mount -t tmpfs -o "$2" tmpfs "$1" 2>/dev/null || return 1
	# Lazily: a process of the run that still holds a file there (killed
	# by a later hook) must not keep the mount behind.
	at_exit "umount -l '$1' 2>/dev/null"
}

# ---- results ----

# pass MESSAGE / fail MESSAGE: one check's result, named after the
# scenario (run/lib.sh) when there is one. Inside a case (begin ... end)
# use flunk instead: the case is the result.
pass() {
	PASSED=$((PASSED + 1))
	echo "ok - ${SCENARIO:+$SCENARIO: }$*"
}
fail() {
	FAILED=$((FAILED + 1))
	FAILURES+=("${SCENARIO:+$SCENARIO: }$*")
	echo "FAIL - ${SCENARIO:+$SCENARIO: }$*"
}

# A case groups the checks of one command into one result:
#   begin NAME; cmd ...; expect_rc 2; expect_err '...'; end
# Each failed expectation inside it flunks the case (the first reason is
# shown, with the command's output); `end` passes or fails it once.
begin() {
	CASE=$1
	CASE_WHY=""
}
flunk() {
	[ -n "$CASE_WHY" ] || CASE_WHY=$1
}
end() {
	if [ -z "$CASE_WHY" ]; then
		pass "$CASE"
	else
		fail "$CASE: $CASE_WHY"
		explain
	fi
	CASE=""
}

# _result STATUS DESCRIPTION [WHY]: what every expect_* helper ends with,
# STATUS being 0 when the check held. Inside a case only a failure counts
# (it flunks the case); outside, each check is a result. WHY, when given,
# is added to DESCRIPTION on failure.
_result() {
	local msg=$2${3:+: $3}
	if [ "$1" = 0 ]; then
		[ -n "$CASE" ] || pass "$2"
	elif [ -n "$CASE" ]; then
		flunk "$msg"
	else
		fail "$msg"
		explain
	fi
}

# explain: after a failed expectation, what the last command printed
# (run/lib.sh shows a run's events instead). explain_cmd: what the last
# cmd printed.
explain() { explain_cmd; }
explain_cmd() {
	[ -n "$COUT" ] || return 0
	{
		echo "exit status: ${rc:-?}"
		echo "stdout:"
		head -c 1500 "$COUT" 2>/dev/null | cat -v
		echo "stderr:"
		head -c 1500 "$CERR" 2>/dev/null | cat -v
	} | sed 's/^/     | /'
}

# ---- checks ----

# expect DESCRIPTION COMMAND...: passes when COMMAND succeeds.
expect() {
	local d=$1
	shift
	"$@"
	_result $? "$d"
}

# expect_rc WANT [DESCRIPTION]: the last command (cmd, run_json,
# finish_bg, or the script's own `rc=$?`) exited with status WANT.
expect_rc() {
	if [ "${rc:-}" = "$1" ]; then
		_result 0 "${2:-exit status $1}"
	elif [ $# -ge 2 ]; then
		_result 1 "$2" "exit status ${rc:-unset}, want $1"
	else
		_result 1 "exit status ${rc:-unset}, want $1"
	fi
}

# expect_eq DESCRIPTION GOT WANT: two strings are equal.
expect_eq() {
	[ "$2" = "$3" ]
	_result $? "$1" "got '$2', want '$3'"
}

# expect_match DESCRIPTION STRING ERE: STRING matches the extended regex.
expect_match() {
	grep -Eq -- "$3" <<<"$2"
	_result $? "$1" "'$2' does not match /$3/"
}

# copy_example NAME DEST: a copy of examples/NAME (`.`: all of examples/)
# at DEST without what running an example leaves in the source tree
# (deploy-root/, results/: see .gitignore), so that a `make demo` before
# the tests changes nothing in them.
copy_example() {
	cp -R "$SRC/examples/$1" "$2" &&
		find "$2" -depth -type d \( -name deploy-root -o -name results \) -exec rm -rf {} +
}

# ---- lockstep commands and their output ----

COUT=""
CERR=""
LAST_CMD=""
CMD_AS=()
# cmd ARGS...: runs `lockstep ARGS` with stdin from /dev/null (cmd_stdin
# FILE ARGS...: from FILE), bounded by RUN_BOUND seconds: stdout in $COUT,
# stderr in $CERR, exit status in $rc (124 when it was killed). File
# descriptors 7 to 9 are the scripts' own (a lock holder's fifo, a file
# held open) and are not passed on.
cmd() {
	cmd_stdin /dev/null "$@"
}
cmd_stdin() {
	local input=$1
	shift
	COUT=$tmp/cmd.out
	CERR=$tmp/cmd.err
	LAST_CMD=cmd
	timeout -k 2 "$RUN_BOUND" "${CMD_AS[@]}" "$LOCKSTEP" "$@" >"$COUT" 2>"$CERR" <"$input" 7>&- 8>&- 9>&-
	rc=$?
	[ "$rc" -eq 124 ] && echo "  (lockstep $1 did not end within ${RUN_BOUND}s: killed)"
	return 0
}

# cmd_as_nobody ARGS...: cmd as the user nobody when the script runs as
# root, whom no permission stops (setpriv, util-linux); else as the
# script's user. The scratch directory is opened to others meanwhile.
cmd_as_nobody() {
	if [ "$(id -u)" -eq 0 ]; then
		need setpriv
		CMD_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		chmod 755 "$tmp"
	fi
	cmd "$@"
	CMD_AS=()
	chmod 700 "$tmp"
}

# out_has TEXT / err_has TEXT: the last command's stdout / stderr holds
# TEXT (a fixed string); predicates for expect and wait_until.
out_has() { grep -qF -- "$1" "$COUT"; }
err_has() { grep -qF -- "$1" "$CERR"; }

# jq_out DESCRIPTION JQ_EXPRESSION: the expression is true of the JSON the
# last command printed.
jq_out() {
	local got
	got=$(jq -e -c "$2" "$COUT" 2>&1)
	_result $? "$1" "jq: ${got:-no result}"
}

# expect_out ERE / expect_err ERE: some line of the last command's stdout
# / stderr matches; expect_err_not ERE: none does.
expect_out() {
	grep -Eq -- "$1" "$COUT"
	_result $? "stdout has a line matching /$1/"
}
expect_err() {
	grep -Eq -- "$1" "$CERR"
	_result $? "stderr has a line matching /$1/"
}
expect_err_not() {
	! grep -Eq -- "$1" "$CERR"
	_result $? "stderr has no line matching /$1/"
}
# expect_out_empty / expect_err_empty: nothing was printed there.
expect_out_empty() {
	[ ! -s "$COUT" ]
	_result $? "stdout is empty"
}
expect_err_empty() {
	[ ! -s "$CERR" ]
	_result $? "stderr is empty"
}
# expect_err_lines N: stderr has exactly N lines.
expect_err_lines() {
	local n
	n=$(wc -l <"$CERR")
	[ "$n" -eq "$1" ]
	_result $? "stderr has $1 lines" "it has $n"
}

# file_has FILE TEXT / file_lacks FILE TEXT: FILE exists and holds (does
# not hold) TEXT, a fixed string. link_is LINK TARGET: LINK is a symbolic
# link to TARGET.
file_has() { [ -f "$1" ] && grep -qF -- "$2" "$1"; }
file_lacks() { [ -f "$1" ] && ! grep -qF -- "$2" "$1"; }
link_is() { [ -L "$1" ] && [ "$(readlink "$1")" = "$2" ]; }

# jq_true JQ_ARGS...: jq -e succeeds (the last output is neither false
# nor null), silently.
jq_true() { jq -e "$@" >/dev/null 2>&1; }

# ---- time and processes ----

now_ms() {
	local ns
	ns=$(date +%s%N)
	echo $((ns / 1000000))
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms until it
# succeeds; false when SECONDS pass first. Its result is always checked
# (expect, if, &&): a wait that timed out must fail the check it guards.
wait_until() {
	local tries=$(($1 * 20))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	"$@"
}

# alive PID: the process exists and is not a zombie. not_running PID: not.
alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}
not_running() { ! alive "$1"; }

# ---- start ----

if [ "${E2E_NO_LOCKSTEP:-}" != 1 ] && [ ! -x "$LOCKSTEP" ]; then
	echo "no lockstep binary at $LOCKSTEP (build it, or set LOCKSTEP)" >&2
	exit 1
fi
need timeout
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-e2e.XXXXXX")
trap _exit_hooks EXIT
cd "$tmp" || exit 1

# signal_supervisors SIGNAL STATE: sends SIGNAL to every run supervisor
# of state directory STATE (`lockstep __supervise STATE/supervise/RUN`),
# found by its command line: also one whose pid file is not written yet.
signal_supervisors() {
	local dir=$2 p
	case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
	for p in $(pgrep -f -- "__supervise $dir/supervise/"); do
		kill "-$1" "$p" 2>/dev/null
	done
}

# crash_all PID STATE: SIGKILLs `lockstep run` PID and the supervisors in
# STATE, as a reboot would end them: the steps in flight are lost with
# them, and a resume finds them interrupted (docs/cli.md, resume). The
# supervisors are stopped first, so that nothing that ends between the
# two kills is journaled.
crash_all() {
	signal_supervisors STOP "$2"
	kill -KILL "$1" 2>/dev/null
	signal_supervisors KILL "$2"
}
