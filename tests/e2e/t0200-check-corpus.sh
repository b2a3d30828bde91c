#!/bin/bash
# t0200-check-corpus: `lockstep check` on every file under tests/e2e/check/.
#
# invalid/NAME.yml   a pipeline file with one problem (or several, where the
#                    point is that all of them are reported in one pass)
# invalid/NAME.err   the exact stderr of `lockstep check NAME.yml`, run inside
#                    invalid/ with NO_COLOR=1, summary line included
# invalid/NAME.rc    optional: the expected exit code (default 3)
# invalid/NAME.args  optional: extra arguments after NAME.yml (--var ...)
# valid/NAME.yml     a valid pipeline: exit 0, stderr "NAME.yml: ok"
# valid/NAME.err     optional: the exact stderr when it is not just "ok"
#
# Each invalid case is also checked with --json: stdout is a JSON array with
# one {file, line, col, severity, message} per diagnostic line of NAME.err,
# saying the same things in the same order.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR (the source tree; default: found from this
# script's location). Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
need jq
corpus=$SRC/tests/e2e/check

# fail_with NAME REASON [DETAILS-FILE]: a failure, with the file that shows it.
fail_with() {
	fail "$1: $2"
	if [ $# -ge 3 ] && [ -s "$3" ]; then
		cat -v "$3" | sed 's/^/     | /'
	fi
}

# Checks the --json output in $COUT in one jq run (jq is slow to start):
# an array of N well-formed diagnostics. Prints them the way the text output
# does, so the two can be compared line by line (control characters become
# '?', as in the text output), or one line "!ERROR: WHY".
json_check='
	if length != 1 then "!ERROR: stdout holds \(length) JSON values, want one array"
	else .[0] end |
	if type == "string" and startswith("!ERROR: ") then .
	elif type != "array" then "!ERROR: stdout is not a JSON array"
	elif length != $n then "!ERROR: \(length) diagnostics, want \($n) (the diagnostic lines of the .err file)"
	elif any(.[]; (.file | type) != "string" or (.line | type) != "number"
			or (.col | type) != "number" or (.message | type) != "string"
			or (.severity | IN("error", "warning", "note") | not))
	then "!ERROR: an element lacks file/line/col/severity/message or has a wrong type"
	else .[] | (if .line > 0 then "\(.file):\(.line):\(.col)" else .file end)
		+ ": \(.severity): "
		+ (.message | gsub("[\u0000-\u001f\u007f]"; "?"))
	end'

diag_lines='^[^ ]*(:[0-9]+:[0-9]+)?: (error|warning|note): '

# check_json LABEL DIR NAME.err [EXTRA-ARGS...]: `check --json` agrees with
# the expected text diagnostics.
check_json() {
	local label=$1 dir=$2 errfile=$3 name want_n
	shift 3
	name=$(basename "$errfile" .err)
	[ "$errfile" = "$tmp/want" ] && name=$(basename "$label")
	cd "$dir" && cmd check --json "$name.yml" "$@"
	grep -E "$diag_lines" "$errfile" >"$tmp/want-lines"
	want_n=$(wc -l <"$tmp/want-lines")
	if ! jq -rs --argjson n "$want_n" "$json_check" "$COUT" >"$tmp/json-lines" 2>"$tmp/why"; then
		head -c 2000 "$COUT" >>"$tmp/why"
		fail_with "$label --json" "stdout is not JSON (exit $rc)" "$tmp/why"
		return
	fi
	if grep -q '^!ERROR: ' "$tmp/json-lines"; then
		jq -c '.[]?' "$COUT" >"$tmp/why" 2>/dev/null
		fail_with "$label --json" "$(sed -n 's/^!ERROR: //p' "$tmp/json-lines" | head -1)" "$tmp/why"
		return
	fi
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$label --json: exit code $rc, want $want_rc"
		return
	fi
	if ! diff -u --label "expected (from $name.err)" --label "actual (from --json)" \
		"$tmp/want-lines" "$tmp/json-lines" >"$tmp/diff"; then
		fail_with "$label --json" "the JSON diagnostics differ from $name.err" "$tmp/diff"
		return
	fi
	pass "$label --json"
}

# ---- invalid files ----
dir=$corpus/invalid
for yml in "$dir"/*.yml; do
	name=$(basename "$yml" .yml)
	errfile=$dir/$name.err
	if [ ! -f "$errfile" ]; then
		fail "invalid/$name: no $name.err next to it"
		continue
	fi
	want_rc=3
	[ -f "$dir/$name.rc" ] && want_rc=$(tr -d ' \n' <"$dir/$name.rc")
	extra=()
	[ -f "$dir/$name.args" ] && read -r -a extra <"$dir/$name.args"

	cd "$dir" && cmd check "$name.yml" ${extra[@]+"${extra[@]}"}
	if [ "$rc" -ge 124 ]; then
		tail -5 "$CERR" >"$tmp/why"
		fail_with "invalid/$name" "killed (exit status $rc: a crash or a hang)" "$tmp/why"
	elif ! diff -u --label "expected ($name.err)" --label "actual stderr" \
		"$errfile" "$CERR" >"$tmp/diff"; then
		[ "$rc" -ne "$want_rc" ] && echo "exit code $rc, want $want_rc" >>"$tmp/diff"
		fail_with "invalid/$name" "stderr differs from $name.err" "$tmp/diff"
	elif [ "$rc" -ne "$want_rc" ]; then
		fail "invalid/$name: exit code $rc, want $want_rc"
	elif [ -s "$COUT" ]; then
		head -5 "$COUT" >"$tmp/why"
		fail_with "invalid/$name" "stdout is not empty" "$tmp/why"
	else
		pass "invalid/$name"
	fi
	check_json "invalid/$name" "$dir" "$errfile" ${extra[@]+"${extra[@]}"}
done

# ---- valid files ----
dir=$corpus/valid
for yml in "$dir"/*.yml; do
	name=$(basename "$yml" .yml)
	if [ -f "$dir/$name.err" ]; then
		cp "$dir/$name.err" "$tmp/want"
	else
		echo "$name.yml: ok" >"$tmp/want"
	fi
	cd "$dir" && cmd check "$name.yml"
	if ! diff -u --label expected --label "actual stderr" "$tmp/want" "$CERR" >"$tmp/diff"; then
		echo "exit code $rc" >>"$tmp/diff"
		fail_with "valid/$name" "stderr is not what a valid file gives" "$tmp/diff"
	elif [ "$rc" -ne 0 ]; then
		fail "valid/$name: exit code $rc, want 0"
	elif [ -s "$COUT" ]; then
		fail "valid/$name: stdout is not empty"
	else
		pass "valid/$name"
	fi
	want_rc=0
	check_json "valid/$name" "$dir" "$tmp/want"
done

# ---- every valid file in one run: exit 0, one "ok" line each ----
cd "$corpus/valid" && cmd check *.yml
nvalid=$(ls "$corpus/valid"/*.yml | wc -l)
nok=$(grep -c '\.yml: ok' "$CERR")
if [ "$rc" -eq 0 ] && [ "$nok" -eq "$nvalid" ]; then
	pass "valid/*.yml in one check"
else
	fail_with "valid/*.yml in one check" "exit $rc, $nok ok lines for $nvalid files" "$CERR"
fi
finish
