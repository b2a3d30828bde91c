# What the step-log warning scripts (t0336, t0337) share, on top of
# run/lib.sh: they run run/t0336-log.yml, whose workflow w has the steps
# talk and after, with its log directory made unwritable in some way.
# shellcheck shell=bash

# line_has FILE PREFIX TEXT: a line of FILE starts with PREFIX and holds TEXT.
line_has() {
	awk -v p="$2" -v t="$3" 'index($0, p) == 1 && index($0, t) { f = 1 } END { exit !f }' "$1"
}

# expect_warned WANT_STEPS MESSAGE: the run's step.warning events are one
# per step in WANT_STEPS (w's, attempt 1), each with MESSAGE in it; the
# summary and `show` (text and --json) list the same.
expect_warned() {
	local steps=$1 msg=$2 s line
	check "one step.warning per step whose log failed: $steps" \
		"[.[] | select(.event == \"step.warning\") | .step] == ($(printf '%s\n' $steps | jq -R . | jq -s -c .))"
	check "each names its workflow, step and attempt and says what failed" \
		"all(.[] | select(.event == \"step.warning\"); .workflow == \"w\" and .attempt == 1 and (.message | contains(\"$msg\")))"
	check "the steps succeeded all the same, and so did the run" \
		'F("w"; "talk").status == "succeeded" and F("w"; "after").status == "succeeded" and RF.status == "succeeded"'
	"$LOCKSTEP" show "$RUN_ID" --state "$STATE" >"$tmp/$SCENARIO/show" 2>&1
	"$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json >"$tmp/$SCENARIO/show.json" 2>&1
	expect "the summary has a warnings section" grep -qx "warnings:" "$ERR"
	expect "show has a warnings section" grep -qx "warnings:" "$tmp/$SCENARIO/show"
	for s in $steps; do
		line="  w: step '$s' (attempt 1): "
		expect "the summary names the warning of $s, with its message" line_has "$ERR" "$line" "$msg"
		expect "show names it" line_has "$tmp/$SCENARIO/show" "$line" "$msg"
		expect "show --json has it" jq_true --arg s "$s" --arg m "$msg" \
			'[.warnings[] | select(.workflow == "w" and .step == $s and .attempt == 1 and .rollback == false and (.message | contains($m)))] | length == 1' \
			"$tmp/$SCENARIO/show.json"
	done
}

# next_run: the id the next run of $STATE gets, in NEXT (the store goes on
# from the last one; 1 for a state directory not made yet), and its log
# directory, in NEXT_LOGS.
next_run() {
	if [ -e "$STATE/lockstep.db" ]; then
		NEXT=$(("$("$LOCKSTEP" runs --state "$STATE" --json --limit 1 | jq '.[0].run')" + 1))
	else
		NEXT=1
	fi
	NEXT_LOGS=$STATE/logs/$NEXT
}
