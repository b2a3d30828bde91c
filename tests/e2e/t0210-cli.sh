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
. "$(dirname "$0")/lib/common.sh"
need jq script setpriv
valid=$SRC/tests/e2e/check/valid
invalid=$SRC/tests/e2e/check/invalid

seed=$valid/seed.yml

# ---- help and version ----

begin "--help: exit 0, lists check and plan on stdout"
cmd --help
expect_rc 0
expect_out '^usage: lockstep '
expect_out '^  check +[a-z]'
expect_out '^  plan +[a-z]'
expect_err_empty
end

begin "-h is --help"
cmd -h
expect_rc 0
expect_out '^  check '
end

begin "--version: one line 'lockstep X.Y.Z'"
cmd --version
expect_rc 0
[ "$(wc -l <"$COUT")" -eq 1 ] || flunk "stdout is not one line"
expect_out '^lockstep [0-9]+\.[0-9]+\.[0-9]+$'
expect_err_empty
end

begin "check --help: usage of check on stdout"
cmd check --help
expect_rc 0
expect_out '^usage: lockstep check FILE'
expect_out '--json'
expect_out '--var'
expect_err_empty
end

begin "plan --help: usage of plan on stdout"
cmd plan --help
expect_rc 0
expect_out '^usage: lockstep plan FILE'
expect_out '--format'
expect_out 'mermaid'
expect_err_empty
end

begin "help check is check --help"
cmd help check
expect_rc 0
expect_out '^usage: lockstep check FILE'
end

# ---- usage errors: exit 2, a message on stderr, nothing on stdout ----

begin "no arguments: exit 2, usage on stderr"
cmd
expect_rc 2
expect_out_empty
expect_err 'usage: lockstep'
end

begin "unknown command: exit 2, one line with a hint"
cmd frobnicate "$seed"
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "unknown command 'frobnicate'"
expect_err "lockstep --help"
expect_err_not 'did you mean'
end

begin "unknown command 'chek': did you mean 'check'?"
cmd chek "$seed"
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "'chek'.*did you mean 'check'\?"
end

begin "unknown command 'plna': did you mean 'plan'?"
cmd plna "$seed"
expect_rc 2
expect_err_lines 1
expect_err "did you mean 'plan'\?"
end

begin "unknown top-level option: exit 2"
cmd --bogus
expect_rc 2
expect_out_empty
expect_err "'--bogus'"
end

begin "check --bogus x.yml: exit 2, names the flag, points at check --help"
cmd check --bogus x.yml
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "'--bogus'"
expect_err "see 'lockstep check --help'"
end

begin "plan --bogus: exit 2, points at plan --help"
cmd plan --bogus "$seed"
expect_rc 2
expect_out_empty
expect_err "'--bogus'"
expect_err "see 'lockstep plan --help'"
end

begin "check without FILE: exit 2"
cmd check
expect_rc 2
expect_out_empty
expect_err 'missing FILE'
end

begin "check --json without FILE: exit 2"
cmd check --json
expect_rc 2
expect_out_empty
end

begin "plan without FILE: exit 2"
cmd plan --format json
expect_rc 2
expect_out_empty
expect_err 'missing FILE'
end

begin "plan with two FILEs: exit 2, says how many it takes"
cmd plan "$seed" "$seed"
expect_rc 2
expect_out_empty
expect_err "^lockstep plan: takes one FILE, got 2 arguments "
end

begin "--var without '=': exit 2, quotes the argument"
cmd check --var version "$seed"
expect_rc 2
expect_out_empty
expect_err "'version'"
expect_err 'KEY=VALUE'
end

begin "--var with an empty key: exit 2"
cmd check --var =1.0 "$seed"
expect_rc 2
expect_out_empty
end

begin "--var with no argument at all: exit 2"
cmd check "$seed" --var
expect_rc 2
expect_out_empty
expect_err "'--var'"
end

begin "plan --var without '=': exit 2"
cmd plan --var version "$seed"
expect_rc 2
expect_out_empty
end

begin "plan --format svg: exit 2, names the format and the choices"
cmd plan --format svg "$seed"
expect_rc 2
expect_out_empty
expect_err "'svg'"
expect_err 'text, dot, mermaid or json'
end

begin "plan --format without a value: exit 2"
cmd plan "$seed" --format
expect_rc 2
expect_out_empty
end

begin "resume and abort without a run id are usage errors"
cmd resume
expect_rc 2
expect_out_empty
expect_err "missing RUN"
cmd abort
expect_rc 2
expect_err "missing RUN"
end

# ---- how options are written ----
# One parser for every command (docs/cli.md, Conventions): a value after
# the option or after '=', options anywhere among the arguments, '--'
# ends them; a misspelt option gets a suggestion.

begin "options may follow the file even with POSIXLY_CORRECT set"
POSIXLY_CORRECT=1 "$LOCKSTEP" check "$seed" --json >"$COUT" 2>"$CERR" </dev/null
rc=$?
expect_rc 0
[ "$(jq -c . "$COUT" 2>/dev/null)" = "[]" ] || flunk "stdout is not [] (was --json read as a FILE?)"
expect_err_empty
end

begin "a value after '=': plan FILE --format=json, -f dot"
cmd plan "$seed" --format=json
expect_rc 0
jq -e '.pipeline == "multi-service"' "$COUT" >/dev/null 2>&1 || flunk "stdout is not the JSON plan"
cmd plan -f dot "$seed"
expect_rc 0
expect_out '^digraph '
end

begin "'--' ends the options: a FILE that starts with '-'"
cp "$seed" ./-odd.yml
cmd check -- -odd.yml
expect_rc 0
expect_err '^-odd\.yml: ok$'
cmd check -odd.yml
expect_rc 2
expect_err "unknown option '-odd.yml'"
end

begin "a misspelt option: exit 2, one line, did you mean the right one?"
cmd check --jsn "$seed"
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "^lockstep check: unknown option '--jsn'; did you mean '--json'\? \(see 'lockstep check --help'\)$"
cmd run "$seed" --max-paralel 2
expect_rc 2
expect_err "unknown option '--max-paralel'; did you mean '--max-parallel'\?"
end

begin "a long option with one dash is named as written, with the right one"
cmd check -json "$seed"
expect_rc 2
expect_err_lines 1
expect_err "^lockstep check: unknown option '-json'; did you mean '--json'\?"
end

begin "a flag given a value: exit 2, says it takes none"
cmd run "$seed" --no-rollback=yes
expect_rc 2
expect_out_empty
expect_err_lines 1
expect_err "^lockstep run: option '--no-rollback' takes no value \(see 'lockstep run --help'\)$"
end

begin "an ambiguous start of an option: exit 2, names the candidates"
cmd runs --stat running
expect_rc 2
expect_err_lines 1
expect_err "^lockstep runs: option '--stat' is ambiguous: '--state' or '--status'"
end

begin "help COMMAND is COMMAND --help, for every command"
for c in check plan run runs show logs resume abort; do
	"$LOCKSTEP" "$c" --help >"$tmp/help-a" 2>&1
	"$LOCKSTEP" help "$c" >"$tmp/help-b" 2>&1
	cmp -s "$tmp/help-a" "$tmp/help-b" || flunk "help $c differs from $c --help"
	grep -q '^  -h, --help  ' "$tmp/help-a" || flunk "$c --help lists no -h, --help"
done
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
	cmd "$@"
	expect_rc 2
	expect_out_empty
	expect_err_lines 1
	err_has "$want" || flunk "stderr lacks: $want"
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
cmd run num.yml --state num-ok --max-log 1099511627776 --max-parallel 1000000 --kill-grace 1h
expect_rc 0
[ -e ran ] || flunk "the pipeline did not run"
cmd run num.yml --state num-ok --max-log 1 --max-parallel 01 --kill-grace 0
expect_rc 0
cmd runs --state num-ok --limit 9223372036854775807
expect_rc 0
[ "$(grep -c num "$COUT")" -eq 2 ] || flunk "runs does not list the 2 runs"
cmd show 0002 --state num-ok
expect_rc 0
expect_out '^run 2 of num: succeeded'
cmd show 9223372036854775807 --state num-ok
expect_rc 1
expect_err 'no run 9223372036854775807'
end

# ---- files lockstep cannot use: exit 3 ----

begin "nonexistent file: exit 3, 'cannot read', names the file"
cmd check does-not-exist.yml
expect_rc 3
expect_out_empty
expect_err '^does-not-exist\.yml: error: cannot read'
expect_err 'No such file'
expect_err '^does-not-exist\.yml: 1 error, 0 warnings$'
end

begin "nonexistent file with plan: exit 3, nothing on stdout"
cmd plan does-not-exist.yml
expect_rc 3
expect_out_empty
expect_err 'cannot read'
end

mkdir -p adir.yml
begin "a directory as FILE: exit 3"
cmd check adir.yml
expect_rc 3
expect_out_empty
expect_err '^adir\.yml: error: cannot read.*[Dd]irectory'
end

cp "$seed" unreadable.yml
chmod 000 unreadable.yml
begin "an unreadable file: exit 3, 'cannot read'"
cmd_as_nobody check unreadable.yml
expect_rc 3
expect_err '^unreadable\.yml: error: cannot read.*Permission denied'
end

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
cmd check big5.yml
expect_rc 3
expect_out_empty
expect_err '^big5\.yml: error: .*larger than 4 MiB'
end

begin "a 5 MiB file with plan: exit 3, nothing on stdout"
cmd plan big5.yml
expect_rc 3
expect_out_empty
expect_err 'larger than 4 MiB'
end

begin "a 5 MiB file on stdin: exit 3, 'larger than 4 MiB'"
cmd_stdin big5.yml check -
expect_rc 3
expect_err 'larger than 4 MiB'
end

begin "a file of exactly 4 MiB is read: exit 0"
cmd check exact4.yml
expect_rc 0
expect_err '^exact4\.yml: ok$'
end

begin "a file of 4 MiB + 1 byte is refused: exit 3"
cmd check over4.yml
expect_rc 3
expect_err 'larger than 4 MiB'
end

# ---- stdin ----

begin "check - reads stdin: exit 0"
cmd_stdin "$seed" check -
expect_rc 0
expect_out_empty
expect_err ': ok$'
end

begin "plan - reads stdin: the plan on stdout"
cmd_stdin "$seed" plan - --format json
expect_rc 0
jq -e '.pipeline == "multi-service"' "$COUT" >/dev/null 2>&1 || flunk "stdout is not the seed's JSON plan"
end

begin "check - with an invalid file on stdin: exit 3, positions given"
cmd_stdin "$invalid/b2-lonely.yml" check -
expect_rc 3
expect_err ':11:9: error: barrier everything-ready has only one participant'
end

# ---- --var ----

expr=$valid/expressions.yml

begin "--var overrides a declared var: the plan changes"
cmd plan "$expr" --format json
jq -r '.barriers[].id' "$COUT" >ids-default
cmd plan "$expr" --format json --var channel=beta
expect_rc 0
jq -r '.barriers[].id' "$COUT" >ids-beta
grep -qx 'expressions-stable-ready' ids-default || flunk "default plan has no barrier expressions-stable-ready"
grep -qx 'expressions-beta-ready' ids-beta || flunk "plan with --var channel=beta has no barrier expressions-beta-ready"
jq -e '.vars.channel == "beta"' "$COUT" >/dev/null || flunk "vars.channel is not beta in the JSON plan"
end

begin "--var changes the text plan too"
cmd plan "$expr"
cp "$COUT" text-default
cmd plan "$expr" --var version=9.9.9
expect_rc 0
grep -q 'v9\.9\.9-expressions' "$COUT" || flunk "text plan does not show the overridden version"
! grep -q 'v9\.9\.9' text-default || flunk "default text plan already shows 9.9.9"
end

begin "--var value may contain '='"
cmd plan "$expr" --format json --var version=a=b
expect_rc 0
jq -e '.vars.version == "a=b"' "$COUT" >/dev/null || flunk "vars.version is not 'a=b'"
end

begin "--var value is checked where it lands: a bad barrier id is exit 3"
cmd plan "$expr" --var channel=a/b
expect_rc 3
expect_out_empty
expect_err "barrier id 'expressions-a/b-ready'"
end

begin "check --var of an undeclared var: exit 3, names the var"
cmd check "$seed" --var colour=blue
expect_rc 3
expect_out_empty
expect_err "colour"
expect_err 'error:'
end

begin "plan --var of an undeclared var: exit 3, names the var, no plan"
cmd plan "$seed" --var colour=blue
expect_rc 3
expect_out_empty
expect_err "colour"
end

begin "check --var of a declared var: exit 0"
cmd check "$seed" --var version=2.0.0
expect_rc 0
end

# ---- several files in one check ----

begin "check of two valid files: exit 0, one ok line each"
cmd check "$seed" "$expr"
expect_rc 0
expect_out_empty
expect_err_lines 2
expect_err "^$seed: ok$"
expect_err "^$expr: ok$"
end

begin "check of valid, invalid, valid: exit 3, every file reported in order"
cmd check "$seed" "$invalid/b2-lonely.yml" "$expr"
expect_rc 3
expect_out_empty
printf '%s\n' "$seed: ok" \
	"$invalid/b2-lonely.yml:11:9: error: barrier everything-ready has only one participant (deploy); a barrier holds at least two workflows until all arrive" \
	"$invalid/b2-lonely.yml: 1 error, 0 warnings" \
	"$expr: ok" >want
diff -u want "$CERR" >/dev/null || flunk "stderr is not the three reports in order"
end

begin "check of an invalid file and a missing one: exit 3, both reported"
cmd check "$invalid/b4-twice.yml" missing.yml
expect_rc 3
expect_err 'b4-twice\.yml:12:9: error:'
expect_err '^missing\.yml: error: cannot read'
end

begin "check --json of several files: one array, the invalid file's diagnostics"
cmd check --json "$seed" "$invalid/b8-swapped.yml" "$invalid/b2-lonely.yml"
expect_rc 3
jq -e 'type == "array" and length == 6' "$COUT" >/dev/null 2>&1 || flunk "not an array of 6 diagnostics"
jq -e '[.[].file] | unique == ["'"$invalid"'/b2-lonely.yml", "'"$invalid"'/b8-swapped.yml"]' "$COUT" \
	>/dev/null 2>&1 || flunk "the diagnostics do not name exactly the two invalid files"
jq -e '[.[] | select(.severity == "error")] | length == 2' "$COUT" >/dev/null 2>&1 ||
	flunk "want 2 errors (one per invalid file)"
end

begin "check --json of an invalid file: diagnostics on stdout, nothing on stderr"
cmd check --json "$invalid/b8-swapped.yml"
expect_rc 3
expect_err_empty
jq -e 'length == 5 and .[0].severity == "error" and .[0].line == 17 and .[0].col == 9' "$COUT" >/dev/null 2>&1 ||
	flunk "stdout is not the 5 diagnostics of b8-swapped.yml"
end

begin "options may follow the file: check FILE --json"
cmd check "$invalid/b2-lonely.yml" --json
expect_rc 3
jq -e 'length == 1 and .[0].line == 11' "$COUT" >/dev/null 2>&1 || flunk "stdout is not b2-lonely's one diagnostic"
end

begin "check --json of a valid file: []"
cmd check --json "$seed"
expect_rc 0
[ "$(jq -c . "$COUT" 2>/dev/null)" = "[]" ] || flunk "stdout is not []"
end

# ---- colour ----

begin "NO_COLOR unset, stderr not a terminal: no escape codes"
env -u NO_COLOR TERM=xterm-256color "$LOCKSTEP" check "$invalid/b8-swapped.yml" >"$COUT" 2>"$CERR" </dev/null
rc=$?
expect_rc 3
grep -q $'\033' "$CERR" && flunk "stderr has escape codes"
expect_err 'error: barrier deadlock'
end

begin "NO_COLOR unset, plan to a pipe: no escape codes on stdout or stderr"
env -u NO_COLOR TERM=xterm-256color "$LOCKSTEP" plan "$seed" >"$COUT" 2>"$CERR" </dev/null
rc=$?
expect_rc 0
grep -q $'\033' "$COUT" "$CERR" && flunk "output has escape codes"
end

# With a terminal (util-linux script), colour is on unless NO_COLOR is set.
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
cp tty-color "$CERR"
end

finish
