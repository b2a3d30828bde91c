#!/bin/bash
# t0210-cli: the command line of lockstep check and plan: help, version,
# usage errors (exit 2), unreadable and oversized files (exit 3), stdin,
# --var, several files in one check, colour only on a terminal; and the
# numbers every command takes (--max-log, --max-parallel, --kill-grace,
# --limit, run ids): digits only, in range, else exit 2 before anything
# runs.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR (default: found from this script's location).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${LOCKSTEP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
LOCKSTEP=${LOCKSTEP:-$src/build/lockstep}
case $LOCKSTEP in /*) ;; *) LOCKSTEP=$PWD/$LOCKSTEP ;; esac
valid=$src/tests/e2e/check/valid
invalid=$src/tests/e2e/check/invalid

if [ ! -x "$LOCKSTEP" ]; then
	echo "t0210: no lockstep binary at $LOCKSTEP (build it, or set LOCKSTEP)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t0210.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

passed=0
failed=0
failures=()
case_name=""
case_ok=true
case_why=""

# A case is: begin NAME; run ...; expect_* ...; end.
begin() {
	case_name=$1
	case_ok=true
	case_why=""
}
flunk() {
	if $case_ok; then
		case_why=$1
	fi
	case_ok=false
}
end() {
	if $case_ok; then
		passed=$((passed + 1))
		echo "ok   $case_name"
	else
		failed=$((failed + 1))
		failures+=("$case_name")
		echo "FAIL $case_name: $case_why"
		{
			echo "exit code: $rc"
			echo "stdout:"
			head -c 1500 out | cat -v
			echo "stderr:"
			head -c 1500 err | cat -v
		} | sed 's/^/     | /'
	fi
}

# run ARGS...: runs lockstep (stdin from /dev/null unless redirected by the
# caller through run_stdin); output in ./out, ./err, exit code in $rc.
run() {
	NO_COLOR=1 "$LOCKSTEP" "$@" >out 2>err </dev/null
	rc=$?
}
run_stdin() {
	local input=$1
	shift
	NO_COLOR=1 "$LOCKSTEP" "$@" >out 2>err <"$input"
	rc=$?
}

expect_rc() { [ "$rc" -eq "$1" ] || flunk "exit code $rc, want $1"; }
expect_out_empty() { [ ! -s out ] || flunk "stdout is not empty"; }
expect_err_empty() { [ ! -s err ] || flunk "stderr is not empty"; }
# expect_out/expect_err ERE: some line matches
expect_out() { grep -Eq -- "$1" out || flunk "stdout has no line matching /$1/"; }
expect_err() { grep -Eq -- "$1" err || flunk "stderr has no line matching /$1/"; }
expect_err_not() { ! grep -Eq -- "$1" err || flunk "stderr has a line matching /$1/"; }
expect_err_lines() {
	local n
	n=$(wc -l <err)
	[ "$n" -eq "$1" ] || flunk "stderr has $n lines, want $1"
}

seed=$valid/seed.yml

# ---- help and version ----

begin "--help: exit 0, lists check and plan on stdout"
run --help
expect_rc 0
expect_out '^usage: lockstep '
expect_out '^  check +[a-z]'
expect_out '^  plan +[a-z]'
expect_err_empty
end

begin "-h is --help"
run -h
expect_rc 0
expect_out '^  check '
end

begin "--version: one line 'lockstep X.Y.Z'"
run --version
expect_rc 0
[ "$(wc -l <out)" -eq 1 ] || flunk "stdout is not one line"
expect_out '^lockstep [0-9]+\.[0-9]+\.[0-9]+$'
expect_err_empty
end

begin "check --help: usage of check on stdout"
run check --help
expect_rc 0
expect_out '^usage: lockstep check FILE'
expect_out '--json'
expect_out '--var'
expect_err_empty
end

begin "plan --help: usage of plan on stdout"
run plan --help
expect_rc 0
expect_out '^usage: lockstep plan FILE'
expect_out '--format'
expect_out 'mermaid'
expect_err_empty
end

begin "help check is check --help"
run help check
expect_rc 0
expect_out '^usage: lockstep check FILE'
end

# ---- usage errors: exit 2, a message on stderr, nothing on stdout ----

begin "no arguments: exit 2, usage on stderr"
run
expect_rc 2
expect_out_empty
expect_err 'usage: lockstep'
end

begin "unknown command: exit 2, one line with a hint"
run frobnicate "$seed"
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "unknown command 'frobnicate'"
expect_err "lockstep --help"
expect_err_not 'did you mean'
end

begin "unknown command 'chek': did you mean 'check'?"
run chek "$seed"
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "'chek'.*did you mean 'check'\?"
end

begin "unknown command 'plna': did you mean 'plan'?"
run plna "$seed"
expect_rc 2
expect_err_lines 1
expect_err "did you mean 'plan'\?"
end

begin "unknown top-level option: exit 2"
run --bogus
expect_rc 2
expect_out_empty
expect_err "'--bogus'"
end

begin "check --bogus x.yml: exit 2, names the flag, points at check --help"
run check --bogus x.yml
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "'--bogus'"
expect_err "see 'lockstep check --help'"
end

begin "plan --bogus: exit 2, points at plan --help"
run plan --bogus "$seed"
expect_rc 2
expect_out_empty
expect_err "'--bogus'"
expect_err "see 'lockstep plan --help'"
end

begin "check without FILE: exit 2"
run check
expect_rc 2
expect_out_empty
expect_err 'missing FILE'
end

begin "check --json without FILE: exit 2"
run check --json
expect_rc 2
expect_out_empty
end

begin "plan without FILE: exit 2"
run plan --format json
expect_rc 2
expect_out_empty
expect_err 'missing FILE'
end

begin "plan with two FILEs: exit 2"
run plan "$seed" "$seed"
expect_rc 2
expect_out_empty
end

begin "--var without '=': exit 2, quotes the argument"
run check --var version "$seed"
expect_rc 2
expect_out_empty
expect_err "'version'"
expect_err 'KEY=VALUE'
end

begin "--var with an empty key: exit 2"
run check --var =1.0 "$seed"
expect_rc 2
expect_out_empty
end

begin "--var with no argument at all: exit 2"
run check "$seed" --var
expect_rc 2
expect_out_empty
expect_err "'--var'"
end

begin "plan --var without '=': exit 2"
run plan --var version "$seed"
expect_rc 2
expect_out_empty
end

begin "plan --format svg: exit 2, names the format and the choices"
run plan --format svg "$seed"
expect_rc 2
expect_out_empty
expect_err "'svg'"
expect_err 'text, dot, mermaid or json'
end

begin "plan --format without a value: exit 2"
run plan "$seed" --format
expect_rc 2
expect_out_empty
end

begin "resume and abort without a run id are usage errors"
run resume
expect_rc 2
expect_out_empty
expect_err "missing RUN"
run abort
expect_rc 2
expect_err "missing RUN"
end

# ---- numbers: digits only, in range ----
# Every numeric option and argument of every command takes decimal digits
# only, within its range: a sign, a space, a unit, an overflow or a value
# out of range is a usage error (exit 2) that names the option and what
# it takes, before anything runs or is created.

cat >num.yml <<'EOF'
name: num
stages:
  - workflow: a
workflows:
  a:
    steps:
      - run: touch ran
EOF

# bad_number WANT ARGS...: lockstep ARGS exits 2 with one line on stderr
# that contains WANT, nothing on stdout; nothing ran (./ran) and no state
# directory was made (./num-state).
bad_number() {
	local want=$1
	shift
	begin "numbers: lockstep $(printf "'%s' " "$@")is a usage error"
	rm -f ran
	run "$@"
	expect_rc 2
	expect_out_empty
	expect_err_lines 1
	grep -qF -- "$want" err || flunk "stderr lacks: $want"
	[ ! -e ran ] || flunk "the pipeline ran"
	[ ! -e num-state ] || flunk "a state directory was made"
	end
}

for v in -5 " 7" "7 " +9 7x 1e3 18446744073709551621 99999999999999999999999 0 1099511627777; do
	bad_number "lockstep run: bad --max-log '$v': a whole number of bytes from 1 to 1099511627776, in digits" \
		run num.yml --state num-state --max-log "$v"
done
bad_number "lockstep run: bad --max-log '-5': a whole number of bytes" run num.yml --state num-state --max-log=-5

for cmd in "run num.yml" "resume 1" "abort 1"; do
	for v in -5 " 7" +9 18446744073709551617 0 1000001; do
		# shellcheck disable=SC2086
		bad_number "lockstep ${cmd%% *}: bad --max-parallel '$v': a whole number of step processes from 1 to 1000000, in digits" \
			$cmd --state num-state --max-parallel "$v"
	done
	for v in -5 " 7" +9 99999999999999999999999 1h1ms 3601s 2h; do
		# shellcheck disable=SC2086
		bad_number "lockstep ${cmd%% *}: bad --kill-grace '$v': " $cmd --state num-state --kill-grace "$v"
	done
	# shellcheck disable=SC2086
	bad_number "lockstep ${cmd%% *}: bad --kill-grace '2h': at most 1h (0 kills at once)" \
		$cmd --state num-state --kill-grace 2h
done

for v in -5 " 7" +9 18446744073709551621 0 9223372036854775808; do
	bad_number "lockstep runs: bad --limit '$v': a whole number of runs from 1 to 9223372036854775807, in digits" \
		runs --state num-state --limit "$v"
done

for cmd in show logs resume abort; do
	for v in " 7" "7 " +9 0 18446744073709551621 9223372036854775808; do
		bad_number "lockstep $cmd: '$v' is not a run id: run ids are 1, 2, 3..." $cmd "$v" --state num-state
	done
	# A leading '-' makes it an option, an unknown one.
	bad_number "lockstep $cmd: unknown option '-5'" $cmd -5 --state num-state
done

begin "numbers: the top of each range is accepted, and leading zeros"
rm -f ran
run run num.yml --state num-ok --max-log 1099511627776 --max-parallel 1000000 --kill-grace 1h
expect_rc 0
[ -e ran ] || flunk "the pipeline did not run"
run run num.yml --state num-ok --max-log 1 --max-parallel 01 --kill-grace 0
expect_rc 0
run runs --state num-ok --limit 9223372036854775807
expect_rc 0
[ "$(grep -c num out)" -eq 2 ] || flunk "runs does not list the 2 runs"
run show 0002 --state num-ok
expect_rc 0
expect_out '^run 2 of num: succeeded'
run show 9223372036854775807 --state num-ok
expect_rc 1
expect_err 'no run 9223372036854775807'
end

# ---- files lockstep cannot use: exit 3 ----

begin "nonexistent file: exit 3, 'cannot read', names the file"
run check does-not-exist.yml
expect_rc 3
expect_out_empty
expect_err '^does-not-exist\.yml: error: cannot read'
expect_err 'No such file'
expect_err '^does-not-exist\.yml: 1 error, 0 warnings$'
end

begin "nonexistent file with plan: exit 3, nothing on stdout"
run plan does-not-exist.yml
expect_rc 3
expect_out_empty
expect_err 'cannot read'
end

mkdir -p adir.yml
begin "a directory as FILE: exit 3"
run check adir.yml
expect_rc 3
expect_out_empty
expect_err '^adir\.yml: error: cannot read.*[Dd]irectory'
end

if [ "$(id -u)" -ne 0 ]; then
	cp "$seed" unreadable.yml
	chmod 000 unreadable.yml
	begin "an unreadable file: exit 3, 'cannot read'"
	run check unreadable.yml
	expect_rc 3
	expect_err 'cannot read'
	end
fi

# A valid pipeline padded with a comment to exactly N bytes.
padded() {
	local size=$1 out=$2 have
	cp "$seed" "$out"
	have=$(wc -c <"$out")
	{
		printf '#'
		head -c $((size - have - 2)) /dev/zero | tr '\0' 'x'
		printf '\n'
	} >>"$out"
}
padded $((5 * 1024 * 1024)) big5.yml
padded $((4 * 1024 * 1024)) exact4.yml
padded $((4 * 1024 * 1024 + 1)) over4.yml

begin "a 5 MiB file: exit 3, 'larger than 4 MiB'"
run check big5.yml
expect_rc 3
expect_out_empty
expect_err '^big5\.yml: error: .*larger than 4 MiB'
end

begin "a 5 MiB file with plan: exit 3, nothing on stdout"
run plan big5.yml
expect_rc 3
expect_out_empty
expect_err 'larger than 4 MiB'
end

begin "a 5 MiB file on stdin: exit 3, 'larger than 4 MiB'"
run_stdin big5.yml check -
expect_rc 3
expect_err 'larger than 4 MiB'
end

begin "a file of exactly 4 MiB is read: exit 0"
run check exact4.yml
expect_rc 0
expect_err '^exact4\.yml: ok$'
end

begin "a file of 4 MiB + 1 byte is refused: exit 3"
run check over4.yml
expect_rc 3
expect_err 'larger than 4 MiB'
end

# ---- stdin ----

begin "check - reads stdin: exit 0"
run_stdin "$seed" check -
expect_rc 0
expect_out_empty
expect_err ': ok$'
end

begin "plan - reads stdin: the plan on stdout"
run_stdin "$seed" plan - --format json
expect_rc 0
jq -e '.pipeline == "multi-service"' out >/dev/null 2>&1 || flunk "stdout is not the seed's JSON plan"
end

begin "check - with an invalid file on stdin: exit 3, positions given"
run_stdin "$invalid/b2-lonely.yml" check -
expect_rc 3
expect_err ':11:9: error: barrier everything-ready has only one participant'
end

# ---- --var ----

expr=$valid/expressions.yml

begin "--var overrides a declared var: the plan changes"
run plan "$expr" --format json
jq -r '.barriers[].id' out >ids-default
run plan "$expr" --format json --var channel=beta
expect_rc 0
jq -r '.barriers[].id' out >ids-beta
grep -qx 'expressions-stable-ready' ids-default || flunk "default plan has no barrier expressions-stable-ready"
grep -qx 'expressions-beta-ready' ids-beta || flunk "plan with --var channel=beta has no barrier expressions-beta-ready"
jq -e '.vars.channel == "beta"' out >/dev/null || flunk "vars.channel is not beta in the JSON plan"
end

begin "--var changes the text plan too"
run plan "$expr"
cp out text-default
run plan "$expr" --var version=9.9.9
expect_rc 0
grep -q 'v9\.9\.9-expressions' out || flunk "text plan does not show the overridden version"
! grep -q 'v9\.9\.9' text-default || flunk "default text plan already shows 9.9.9"
end

begin "--var value may contain '='"
run plan "$expr" --format json --var version=a=b
expect_rc 0
jq -e '.vars.version == "a=b"' out >/dev/null || flunk "vars.version is not 'a=b'"
end

begin "--var value is checked where it lands: a bad barrier id is exit 3"
run plan "$expr" --var channel=a/b
expect_rc 3
expect_out_empty
expect_err "barrier id 'expressions-a/b-ready'"
end

begin "check --var of an undeclared var: exit 3, names the var"
run check "$seed" --var colour=blue
expect_rc 3
expect_out_empty
expect_err "colour"
expect_err 'error:'
end

begin "plan --var of an undeclared var: exit 3, names the var, no plan"
run plan "$seed" --var colour=blue
expect_rc 3
expect_out_empty
expect_err "colour"
end

begin "check --var of a declared var: exit 0"
run check "$seed" --var version=2.0.0
expect_rc 0
end

# ---- several files in one check ----

begin "check of two valid files: exit 0, one ok line each"
run check "$seed" "$expr"
expect_rc 0
expect_out_empty
expect_err_lines 2
expect_err "^$seed: ok$"
expect_err "^$expr: ok$"
end

begin "check of valid, invalid, valid: exit 3, every file reported in order"
run check "$seed" "$invalid/b2-lonely.yml" "$expr"
expect_rc 3
expect_out_empty
printf '%s\n' "$seed: ok" \
	"$invalid/b2-lonely.yml:11:9: error: barrier everything-ready has only one participant (deploy); a barrier holds at least two workflows until all arrive" \
	"$invalid/b2-lonely.yml: 1 error, 0 warnings" \
	"$expr: ok" >want
diff -u want err >/dev/null || flunk "stderr is not the three reports in order"
end

begin "check of an invalid file and a missing one: exit 3, both reported"
run check "$invalid/b4-twice.yml" missing.yml
expect_rc 3
expect_err 'b4-twice\.yml:12:9: error:'
expect_err '^missing\.yml: error: cannot read'
end

begin "check --json of several files: one array, the invalid file's diagnostics"
run check --json "$seed" "$invalid/b8-swapped.yml" "$invalid/b2-lonely.yml"
expect_rc 3
jq -e 'type == "array" and length == 6' out >/dev/null 2>&1 || flunk "not an array of 6 diagnostics"
jq -e '[.[].file] | unique == ["'"$invalid"'/b2-lonely.yml", "'"$invalid"'/b8-swapped.yml"]' out \
	>/dev/null 2>&1 || flunk "the diagnostics do not name exactly the two invalid files"
jq -e '[.[] | select(.severity == "error")] | length == 2' out >/dev/null 2>&1 ||
	flunk "want 2 errors (one per invalid file)"
end

begin "check --json of an invalid file: diagnostics on stdout, nothing on stderr"
run check --json "$invalid/b8-swapped.yml"
expect_rc 3
expect_err_empty
jq -e 'length == 5 and .[0].severity == "error" and .[0].line == 17 and .[0].col == 9' out >/dev/null 2>&1 ||
	flunk "stdout is not the 5 diagnostics of b8-swapped.yml"
end

begin "options may follow the file: check FILE --json"
run check "$invalid/b2-lonely.yml" --json
expect_rc 3
jq -e 'length == 1 and .[0].line == 11' out >/dev/null 2>&1 || flunk "stdout is not b2-lonely's one diagnostic"
end

begin "check --json of a valid file: []"
run check --json "$seed"
expect_rc 0
[ "$(jq -c . out 2>/dev/null)" = "[]" ] || flunk "stdout is not []"
end

# ---- colour ----

begin "NO_COLOR unset, stderr not a terminal: no escape codes"
env -u NO_COLOR TERM=xterm-256color "$LOCKSTEP" check "$invalid/b8-swapped.yml" >out 2>err </dev/null
rc=$?
expect_rc 3
grep -q $'\033' err && flunk "stderr has escape codes"
expect_err 'error: barrier deadlock'
end

begin "NO_COLOR unset, plan to a pipe: no escape codes on stdout or stderr"
env -u NO_COLOR TERM=xterm-256color "$LOCKSTEP" plan "$seed" >out 2>err </dev/null
rc=$?
expect_rc 0
grep -q $'\033' out err && flunk "output has escape codes"
end

# With a terminal (util-linux script), colour is on unless NO_COLOR is set.
if script -qec true /dev/null >/dev/null 2>&1; then
	begin "on a terminal: colour; with NO_COLOR=1 or TERM=dumb: none"
	env -u NO_COLOR TERM=xterm script -qec "'$LOCKSTEP' check '$invalid/b2-lonely.yml'" /dev/null >tty-color 2>&1
	NO_COLOR=1 TERM=xterm script -qec "'$LOCKSTEP' check '$invalid/b2-lonely.yml'" /dev/null >tty-plain 2>&1
	rc=0
	grep -q $'\033\\[' tty-color || flunk "no escape codes on a terminal"
	grep -q $'\033\\[' tty-plain && flunk "escape codes on a terminal with NO_COLOR=1"
	env -u NO_COLOR TERM=dumb script -qec "'$LOCKSTEP' check '$invalid/b2-lonely.yml'" /dev/null >tty-dumb 2>&1
	grep -q $'\033\\[' tty-dumb && flunk "escape codes on a terminal with TERM=dumb"
	grep -q 'b2-lonely.yml:11:9: error: barrier everything-ready' tty-plain ||
		flunk "the plain terminal output lacks the diagnostic"
	cp tty-color err
	end
fi

echo
if [ "$failed" -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
