#!/bin/bash
# t0700-secrets: secrets stay secret.
#   1. check and plan need no values, and plan (every format) shows none;
#   2. a run without a required secret exits 2 naming each one and how to
#      give it, and records nothing; a secrets file its group or others
#      can read is refused (exit 2);
#   3. a step gets its secrets through env: and prints them raw, on
#      stderr, in base64 at three alignments, JSON-escaped, URL-encoded,
#      split across two writes, multi-line and at the end without a
#      newline: its log, the terminal (plain lines and --json's stderr)
#      and `logs` show "***"; no step sees LOCKSTEP_SECRET_*;
#   4. an http-check sends a secret in a header and the answer quotes it:
#      the failure reason in --json, show and the store says "***", also
#      where the quote would cut the secret; a secret with a line break
#      is never sent in a header;
#   5. grep over the whole state directory (database, logs) finds no
#      value; the state directory, the database (with its -wal and -shm)
#      and the logs are private (0700, 0600), and an existing state
#      directory keeps its mode while new files in it are 0600;
#   6. resume and abort of a killed run need the secrets again: without
#      them they exit 2 naming them, with them they finish the run.
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq and python3.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
for v in $(env | sed -n 's/^\(LOCKSTEP_SECRET_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
umask 022

cp "$RUNDIR"/t0700-*.yml "$tmp"/
ln -s "$RUNDIR/bin" "$tmp/bin"
P=$tmp/t0700-secrets.yml

# The values: characters that URL-encoding and JSON escaping change.
TOKEN='hunter2/Se"cr3t+V@lue-0700'
CERT_1='-----BEGIN TEST KEY-----'
CERT_2='MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu'
CERT_3='KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ'
CERT=$(printf '%s\n%s\n%s\n-----END TEST KEY-----' "$CERT_1" "$CERT_2" "$CERT_3")
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

SECRETS=$tmp/secrets.env
{
	echo "# the secrets of t0700-secrets.yml"
	printf 'api-token=%s\n' "$TOKEN"
} >"$SECRETS"
chmod 600 "$SECRETS"

has() { # DESCRIPTION FILE TEXT: the file holds the text
	if grep -qF -- "$3" "$2" 2>/dev/null; then
		pass "$1"
	else
		fail "$1: ${2##*/} lacks '$3'"
		sed 's/^/     | /' "$2" 2>/dev/null | head -20
	fi
}
# no_secret DESCRIPTION PATH...: no file under the paths holds any secret
# value, nor a line of the multi-line one (grep -r, binary files included).
no_secret() {
	local d=$1 found
	shift
	found=$(grep -rlaF -e "$TOKEN" -e "$CERT_2" -e "$CERT_3" "$@" 2>/dev/null)
	if [ -z "$found" ]; then
		pass "$d"
	else
		fail "$d: found in $(echo $found)"
	fi
}
mode_is() { # DESCRIPTION PATH MODE
	local m
	m=$(stat -c %a "$2" 2>/dev/null)
	if [ "$m" = "$3" ]; then
		pass "$1 ($3)"
	else
		fail "$1: ${2#"$tmp"/} has mode ${m:-none}, want $3"
	fi
}

scenario check-plan
cmd check "$P"
expect_rc 0 "check needs no secret values"
cmd plan "$P"
expect_rc 0 "plan needs no secret values"
for f in text json dot mermaid; do
	for y in "$P" "$tmp/t0700-http.yml"; do
		LOCKSTEP_SECRET_API_TOKEN=$TOKEN LOCKSTEP_SECRET_CERT=$CERT cmd plan "$y" --format "$f"
		if [ "$rc" -eq 0 ] && ! grep -qF -e "$TOKEN" -e "$CERT_2" "$COUT" "$CERR"; then
			pass "plan --format $f of ${y##*/} shows no value, even with the values at hand"
		else
			fail "plan --format $f of ${y##*/}: exit $rc, or a value is in its output"
		fi
	done
done
cmd plan "$tmp/t0700-http.yml" --format json
if jq -e '.workflows[0].steps[0].headers["X-Token"] == "${{ secrets.api-token }}"' "$COUT" >/dev/null; then
	pass "the plan keeps \${{ secrets.api-token }} in the header as written"
else
	fail "the plan's header: $(jq -c '.workflows[0].steps[0].headers' "$COUT")"
fi

scenario missing
cmd run "$P" --state "$tmp/missing-state"
expect_rc 2 "a run without its required secrets"
has "names api-token and how to give it" "$CERR" "secret 'api-token' has no value: set LOCKSTEP_SECRET_API_TOKEN in the environment, or give a line api-token=VALUE in a file named by --secrets-file"
has "names cert too" "$CERR" "secret 'cert' has no value: set LOCKSTEP_SECRET_CERT"
has "points at the declaration" "$CERR" "t0700-secrets.yml:8:3: error: secret 'api-token'"
grep -qF "'spare'" "$CERR" && fail "an optional secret is called missing" ||
	pass "an optional secret without a value is not missing"
has "says nothing ran" "$CERR" "lockstep run: nothing was run"
test ! -e "$tmp/missing-state" && pass "nothing was recorded (no state directory)" ||
	fail "a state directory was made for a run that never started"
LOCKSTEP_SECRET_API_TOKEN=$TOKEN cmd run "$P" --state "$tmp/missing-state"
expect_rc 2 "one required secret still missing"
grep -qF "'api-token'" "$CERR" && fail "api-token, given, is called missing" ||
	pass "only the missing one is named"

scenario file-mode
chmod 644 "$SECRETS"
LOCKSTEP_SECRET_CERT=$CERT cmd run "$P" --state "$tmp/mode-state" --secrets-file "$SECRETS"
expect_rc 2 "a world-readable secrets file"
has "says why and what to do" "$CERR" "the secrets file can be used by its group or others (mode 0644): refusing it; make it private (chmod 600"
chmod 640 "$SECRETS"
LOCKSTEP_SECRET_CERT=$CERT cmd run "$P" --state "$tmp/mode-state" --secrets-file "$SECRETS"
expect_rc 2 "a group-readable secrets file"
grep -qF "$TOKEN" "$CERR" && fail "the refusal quotes a value" || pass "the refusal quotes no value"
test ! -e "$tmp/mode-state" && pass "nothing was recorded" || fail "something was recorded"
chmod 600 "$SECRETS"

# ---- 3 and 5: the step prints its secrets; files and their modes ----
scenario print
mkdir -m 755 "$tmp/old-state"
export T0700_STATE=$STATE
LOCKSTEP_SECRET_API_TOKEN='not this one' LOCKSTEP_SECRET_CERT=$CERT run_json "$P" --secrets-file "$SECRETS"
unset T0700_STATE
expect_rc 0 "the run"
test "$(cat "$OUT/token.sha" 2>/dev/null)" = "$(sha "$TOKEN")" &&
	pass "the step got the file's value (the file wins over the environment)" ||
	fail "the step did not get the secrets file's value through env:"
test "$(cat "$OUT/cert.sha" 2>/dev/null)" = "$(sha "$CERT")" &&
	pass "the step got the multi-line secret whole" ||
	fail "the multi-line secret did not reach the step whole"
test -e "$OUT/forms-env" && test ! -s "$OUT/forms-env" &&
	pass "a step that uses secrets sees no LOCKSTEP_SECRET_* variable" ||
	fail "a step sees $(cat "$OUT/forms-env" 2>/dev/null | cut -d= -f1)"
test -e "$OUT/plain-env" && test ! -s "$OUT/plain-env" &&
	pass "a step that uses none sees no LOCKSTEP_SECRET_* variable" ||
	fail "the plain step sees $(cat "$OUT/plain-env" 2>/dev/null | cut -d= -f1)"
LOG=$STATE/logs/$RUN_ID/print/forms.1.log
has "the log masks the raw value" "$LOG" "raw: ***"
has "the log masks what went to stderr" "$LOG" "stderr: ***"
for p in "" x xy; do
	enc=$(printf '%s%s!' "$p" "$TOKEN" | base64 -w0)
	line=$(grep -F "b64 [$p]: " "$LOG")
	mid=${enc:8:12}
	case $line in
	*"$mid"*) fail "base64 after ${#p} bytes shows the secret: $line" ;;
	*'***'*) pass "base64 after ${#p} bytes is masked ($line)" ;;
	*) fail "no masked base64 line after ${#p} bytes: $line" ;;
	esac
done
has "JSON escaping is masked" "$LOG" 'json: {"token":"***"}'
has "URL-encoding is masked" "$LOG" "url: ***"
has "a secret split across two writes is masked" "$LOG" "split: ***"
has "what a step left running prints after the step is masked too" \
	"$STATE/logs/$RUN_ID/late/spawn.1.log" "late: ***"
test "$(sed -n '/^cert:$/,/^tail/p' "$LOG" | sed -n 2,5p | tr '\n' ' ')" = "*** *** *** *** " &&
	pass "a multi-line secret is masked line by line" ||
	fail "the multi-line secret: $(sed -n '/^cert:$/,/^tail/p' "$LOG" | tr '\n' '|')"
test "$(tail -n 1 "$LOG")" = "tail: ***" &&
	pass "output that ends without a newline is masked and complete" ||
	fail "the log ends with '$(tail -n 1 "$LOG")'"
has "the terminal (stderr with --json) shows the masked lines" "$ERR" "[print] raw: ***"
has "the terminal masks the split secret" "$ERR" "[print] split: ***"
no_secret "stdout (--json events) and stderr hold no value" "$EVENTS" "$ERR"
cmd logs "$RUN_ID" --state "$STATE"
has "lockstep logs shows the masked log" "$COUT" "raw: ***"
cmd show "$RUN_ID" --state "$STATE" --json
no_secret "lockstep logs and show --json hold no value" "$COUT" "$CERR"
PRINT_OUT=$OUT PRINT_LOG=$LOG PRINT_RUN=$RUN_ID
# The plain lines on standard output, without --json
LOCKSTEP_SECRET_CERT=$CERT cmd run "$P" --state "$tmp/old-state" --secrets-file "$SECRETS"
expect_rc 0 "the same run, plain lines"
has "plain lines show the masked output" "$COUT" "[print] raw: ***"
has "plain lines show the masked end without newline" "$COUT" "[print] tail: ***"
no_secret "plain output holds no value" "$COUT" "$CERR"

# ---- 4: an http-check quotes the secret back ----
scenario http
SRV=$tmp/server
mkdir -p "$SRV"
python3 "$E2E_DIR/http/server.py" "$SRV" 2>"$SRV/stderr" &
SRV_PID=$!
at_exit 'kill -KILL "$SRV_PID" 2>/dev/null'
if wait_until 10 test -s "$SRV/port"; then
	# 190 bytes of padding: the quote of the body (its first 200 bytes) cuts the secret.
	PAD=$(printf 'p%.0s' $(seq 190))
	LOCKSTEP_SECRET_API_TOKEN=$TOKEN LOCKSTEP_SECRET_CERT=$CERT run_json "$tmp/t0700-http.yml" \
		--var port="$(cat "$SRV/port")" --var pad="$PAD"
	expect_rc 1 "the check fails (the body never matches)"
	check "the reason quotes the answer, the secret masked" \
		'WF("check").reason | test("body \"X-Token=\\*\\*\\*\"")'
	check "a secret the quote would cut is masked whole, not shown in part" \
		"WF(\"cut\").reason | contains(\"X-Token=$PAD*\") and (contains(\"X-Token=${PAD}h\") | not)"
	check "a secret with a line break is not sent in a header" \
		'WF("multi").reason | endswith("header X-Cert: a secret'"'"'s value holds a line break, which cannot be sent in a header)")'
	grep -q ' /status/200$' "$SRV/requests" && fail "the header with a line break was sent" ||
		pass "no request was made with it"
	has "the check's log quotes the masked answer" "$STATE/logs/$RUN_ID/check/echo.1.log" 'body "X-Token=***"'
	no_secret "the events, the terminal and the log hold no value" "$EVENTS" "$ERR" "$STATE/logs/$RUN_ID"
	cmd show "$RUN_ID" --state "$STATE"
	has "show has the masked reason" "$COUT" 'X-Token=***'
else
	fail "the test server did not start: $(cat "$SRV/stderr")"
fi
kill -KILL "$SRV_PID" 2>/dev/null

# ---- 6: resume and abort ask for the secrets again ----
# killed_run: runs t0700-resume.yml with the secret until its step has
# started, then SIGKILLs lockstep: the run ($RUN_ID) is interrupted.
killed_run() {
	rm -f "$OUT/started"
	LOCKSTEP_SECRET_API_TOKEN=$TOKEN start_json "$tmp/t0700-resume.yml"
	wait_until 10 test -e "$OUT/started"
	wait_event 10 '.event == "step.started"'
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
	crash_all "$BG" "$STATE"
	wait "$BG" 2>/dev/null
	BG_PIDS=()
}

scenario resume
killed_run
cmd resume "$RUN_ID" --state "$STATE"
expect_rc 2 "resume without the secret"
has "names it and how to give it" "$CERR" "secret 'api-token' has no value: set LOCKSTEP_SECRET_API_TOKEN"
has "says the run needs its secrets again" "$CERR" "lockstep resume: run $RUN_ID needs its secrets again (lockstep never records them); it stays interrupted"
cmd show "$RUN_ID" --state "$STATE" --json
jq -e '.status == "interrupted"' "$COUT" >/dev/null && pass "the run is still interrupted" ||
	fail "the run is $(jq -r .status "$COUT")"
LOCKSTEP_SECRET_API_TOKEN=$TOKEN cmd resume "$RUN_ID" --state "$STATE"
expect_rc 0 "resume with the secret finishes the run"
test "$(cat "$OUT/resumed.sha" 2>/dev/null)" = "$(sha "$TOKEN")" &&
	pass "the resumed step got the secret" || fail "the resumed step did not get the secret"
has "the resumed attempt's log is masked" "$STATE/logs/$RUN_ID/work/once.2.log" "resumed with ***"
no_secret "nothing of the resumed run holds the value" "$COUT" "$CERR" "$STATE"

scenario abort
killed_run
cmd abort "$RUN_ID" --state "$STATE"
expect_rc 2 "abort without the secret"
has "names it" "$CERR" "secret 'api-token' has no value"
cmd abort "$RUN_ID" --state "$STATE" --secrets-file "$SECRETS"
expect_rc 0 "abort with the secrets file"
cmd show "$RUN_ID" --state "$STATE" --json
jq -e '.status == "aborted"' "$COUT" >/dev/null && pass "the run is aborted" ||
	fail "the run is $(jq -r .status "$COUT")"

# ---- 5: who may read the state directory ----
scenario modes
OUT=$PRINT_OUT
test "$(cut -d' ' -f1 "$OUT/modes" | tr '\n' ' ')" = "700 600 600 600 " &&
	pass "while the run holds them: state directory 0700, lockstep.db, -shm and -wal 0600" ||
	fail "modes during the run: $(tr '\n' ',' <"$OUT/modes")"
mode_is "the state directory" "$STATE" 700
mode_is "the database" "$STATE/lockstep.db" 600
mode_is "the logs directory" "$STATE/logs" 700
mode_is "the run's logs directory" "$STATE/logs/$PRINT_RUN" 700
mode_is "a workflow's logs directory" "$STATE/logs/$PRINT_RUN/print" 700
mode_is "a step's log" "$PRINT_LOG" 600
mode_is "an existing state directory keeps its mode" "$tmp/old-state" 755
mode_is "a new database in it is private" "$tmp/old-state/lockstep.db" 600
mode_is "a new log in it is private" "$tmp/old-state/logs/1/print/forms.1.log" 600

# ---- the whole state directory, database included ----
scenario everything
no_secret "grep -r over every state directory (databases, WAL, logs) finds no value" "$tmp"/*state* "$STATE"

finish
