#!/bin/bash
# t0500-http-check: the http-check step kind against a local HTTP server
# that this script starts (tests/e2e/http/server.py): success after a few
# answers that were not as expected, a wrong status, a body that does not
# match, connection refused, `within` running out on time, a server that
# never answers (request-timeout), expect-status lists, headers with
# expressions, expect-body patterns with expressions, the 64 KiB body limit and the escaping of body excerpts,
# retries, the step's own timeout, abort by SIGINT while a request is in
# flight, an http-check in a rollback, plain output and logs, loopback
# hosts reached directly whatever the proxy variables say.
#
# Timing: event timestamps (wall clock, ms) and the server's request log
# (monotonic, ms) are compared with generous upper bounds; nothing sleeps
# to let things happen: waits are bounded waits on conditions.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq, timeout and python3.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$E2E_DIR/http/lib.sh"
unset LOCKSTEP_STATE

# ---- the server ----
serve python3 "$E2E_DIR/http/server.py" "$SRV"
CLOSED=$(cat "$SRV/closed-port")
BASE=http://127.0.0.1:$PORT

# has_requests PATH N: the server got at least N requests for PATH.
has_requests() {
	[ "$(requests_to "$1")" -ge "$2" ]
}
# gaps PATH: the times between consecutive requests for PATH, in ms.
gaps() {
	awk -v p="$1" '$2 == p { if (seen) printf "%d ", $1 - last; last = $1; seen = 1 }' "$SRV/requests"
}

P=$tmp/p
mkdir -p "$P"
cat >"$P/checks.yml" <<'YAML'
name: t0500-checks
vars:
  port: "0"
  closed: "0"
  token: secret
  state: ready
stages:
  - workflow: flaky
  - workflow: wrong-status
    parallel: true
  - workflow: body-mismatch
    parallel: true
  - workflow: refused
    parallel: true
  - workflow: exhausted
    parallel: true
  - workflow: silent
    parallel: true
  - workflow: statuses
    parallel: true
  - workflow: headers
    parallel: true
  - workflow: big
    parallel: true
  - workflow: binary
    parallel: true
workflows:
  flaky:
    steps:
      - id: ready
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/flaky/run-${{ run.id }}/2
          expect-body: ^${{ vars.state }}$
          interval: 150ms
          within: 10s
      - id: after
        run: echo after
  wrong-status:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/status/503
          interval: 100ms
          within: 600ms
  body-mismatch:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/body/starting%20up
          expect-body: ready
          interval: 100ms
          within: 500ms
  refused:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.closed }}/health
          interval: 100ms
          within: 500ms
  exhausted:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/status/500
          interval: 300ms
          within: 1s
  silent:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/hang
          interval: 100ms
          request-timeout: 300ms
          within: 1s
  statuses:
    steps:
      - id: gone
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/status/410
          expect-status: [404, 410..419]
          within: 2s
  headers:
    steps:
      - id: echo
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/echo
          headers:
            X-Token: ${{ vars.token }}-${{ run.id }}
          expect-body: ^X-Token=${{ vars.token }}-[0-9]+$
          within: 2s
  big:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/big
          expect-body: END
          interval: 5s
          within: 2s
  binary:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/binary
          interval: 5s
          within: 1s
YAML

scenario checks
: >"$SRV/requests"
run_json "$P/checks.yml" --var port="$PORT" --var closed="$CLOSED"
expect_rc 1
check_stream
u=$BASE

# success: two 503s, then 200 "ready"
check "flaky: succeeded on the third request, exit_code null" \
	'F("flaky"; "ready").status == "succeeded" and F("flaky"; "ready").exit_code == null and lt(F("flaky"; "ready"); S("flaky"; "after")) and WF("flaky").status == "succeeded"'
check "flaky: it took two pauses of 150ms (>= 300ms, well under within)" \
	'F("flaky"; "ready").duration_ms >= 290 and F("flaky"; "ready").duration_ms < 3000'
FLAKY=/flaky/run-$RUN_ID/2
expect "flaky: the server got exactly 3 requests" test "$(requests_to "$FLAKY")" -eq 3
g=$(gaps "$FLAKY")
ok=1
for x in $g; do [ "$x" -ge 140 ] || ok=0; done
expect "flaky: requests at least the 150ms interval apart ($g)" test "$ok" -eq 1
L=$(log_of flaky ready)
expect "flaky: the log names the check" file_has "$L" "http-check GET $u$FLAKY: expect status 200..399, body matching '^ready\$', every 150ms within 10s, request-timeout 10s"
expect "flaky: one log line per request, with time, status and outcome" \
	test "$(lines_matching "$L" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z #[123] status')" -eq 3
expect "flaky: the first two: 503, not as expected" \
	test "$(lines_matching "$L" '#[12] status 503 in [0-9]+ms, body "starting": not as expected \(status not in 200\.\.399\)$')" -eq 2
expect "flaky: the third: 200, as expected" file_has "$L" '#3 status 200'
expect "flaky: ... as expected" grep -qE '#3 status 200 in [0-9]+ms, body "ready": as expected$' "$L"

# wrong status
check "wrong-status: failed, exit_code null" \
	'F("wrong-status"; "smoke").status == "failed" and F("wrong-status"; "smoke").exit_code == null and WF("wrong-status").status == "failed"'
reason_is "wrong-status: the reason quotes the status and the body" wrong-status \
	"failed at step 'smoke' (http-check GET $u/status/503: status 503 after 600ms, body \"status 503\")"
expect "wrong-status: its log ends with 'gave up'" grep -qE 'gave up: within 600ms ran out after [0-9]+ requests$' "$(log_of wrong-status smoke)"

# body mismatch
reason_is "body-mismatch: failed with the status, the pattern and the body" body-mismatch \
	"failed at step 'smoke' (http-check GET $u/body/starting%20up: status 200 but the body does not match 'ready' after 500ms, body \"starting up\")"
expect "body-mismatch: the log says why each answer did not do" \
	grep -qF "#1 status 200 in" "$(log_of body-mismatch smoke)"
expect "body-mismatch: ... the body" grep -qF ": not as expected (body does not match 'ready')" "$(log_of body-mismatch smoke)"

# connection refused
reason_is "refused: failed with 'connection refused'" refused \
	"failed at step 'smoke' (http-check GET http://127.0.0.1:$CLOSED/health: connection refused after 500ms)"
expect "refused: each attempt is logged as refused" \
	grep -qE '#1 connection refused after [0-9]+ms: not as expected$' "$(log_of refused smoke)"
n=$(lines_matching "$(log_of refused smoke)" 'connection refused after')
expect "refused: it kept trying every 100ms ($n attempts in 500ms)" test "$n" -ge 3 -a "$n" -le 6

# within runs out on time
check "exhausted: step.finished 1s after step.started, not much later (event times)" \
	'((F("exhausted"; "smoke") | ms) - (S("exhausted"; "smoke") | ms)) as $d | $d >= 990 and $d < 1200'
check "exhausted: duration_ms says the same" \
	'F("exhausted"; "smoke").duration_ms >= 1000 and F("exhausted"; "smoke").duration_ms < 1200'
n=$(requests_to /status/500)
expect "exhausted: a request every 300ms: 4 requests in 1s (got $n)" test "$n" -ge 3 -a "$n" -le 4
reason_is "exhausted: the reason" exhausted \
	"failed at step 'smoke' (http-check GET $u/status/500: status 500 after 1s, body \"status 500\")"

# a server that never answers
reason_is "silent: failed with the request timeout" silent \
	"failed at step 'smoke' (http-check GET $u/hang: request timed out after 300ms, gave up after 1s)"
check "silent: and on time" \
	'((F("silent"; "smoke") | ms) - (S("silent"; "smoke") | ms)) as $d | $d >= 990 and $d < 1200'
L=$(log_of silent smoke)
n=$(lines_matching "$L" '#[0-9]+ request timed out after 300ms: not as expected$')
expect "silent: each request timed out after 300ms, then a 100ms pause ($n in 1s)" test "$n" -ge 2 -a "$n" -le 3
n=$(requests_to /hang)
expect "silent: the server saw the requests (got $n)" test "$n" -ge 2 -a "$n" -le 3

# the rest
check "statuses: 410 is in [404, 410..419]" 'F("statuses"; "gone").status == "succeeded"'
check "headers: X-Token with vars and run.id reached the server" 'F("headers"; "echo").status == "succeeded"'
expect "headers: the log shows the body the server echoed" \
	grep -qF "body \"X-Token=secret-$RUN_ID\": as expected" "$(log_of headers echo)"
check "big: only the first 64 KiB count: END, past them, never matches" \
	'F("big"; "smoke").status == "failed" and (WF("big").reason | test("body does not match .END. after 2s, body \"x{200}\\.\\.\\.\"\\)$"))'
reason_is "binary: control bytes, quotes and bytes that are not UTF-8 are escaped" binary \
	"failed at step 'smoke' (http-check GET $u/binary: status 500 after 1s, body \"line 1\\nline\\t2 \\\"q\\\" \\\\ \\x01\\x7f\\xff\\xfe end\")"

# ---- retries, the step timeout, rollback ----
cat >"$P/steps.yml" <<'YAML'
name: t0500-steps
vars:
  port: "0"
stages:
  - workflow: retried
  - workflow: limited
    parallel: true
workflows:
  retried:
    steps:
      - id: smoke
        retries: 1
        retry-delay: 100ms
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/status/502
          interval: 100ms
          within: 300ms
    rollback:
      - id: verify
        http-check: http://127.0.0.1:${{ vars.port }}/body/rolled%20back
  limited:
    steps:
      - id: smoke
        timeout: 400ms
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/status/503
          interval: 100ms
          within: 30s
YAML

scenario steps
: >"$SRV/requests"
run_json "$P/steps.yml" --var port="$PORT"
expect_rc 1
check_stream
check "retries: the whole check runs twice (attempts 1, 2), both failed" \
	'[.[] | select(.workflow == "retried" and .step == "smoke" and (.event | startswith("step."))) | [.event, .attempt // .status]] == [["step.started", 1], ["step.finished", "failed"], ["step.started", 2], ["step.finished", "failed"]]'
check "retries: each attempt lasts its within (300ms)" \
	'[.[] | select(.event == "step.finished" and .workflow == "retried" and .step == "smoke") | .duration_ms] | all(. >= 300 and . < 800)'
expect "retries: a log per attempt" test -f "$(log_of retried smoke 1)" -a -f "$(log_of retried smoke 2)"
check "rollback: an http-check in a rollback list runs too and succeeds" \
	'WR("retried") != null and F("retried"; "verify").status == "succeeded" and WF("retried").status == "rolled-back"'
check "timeout: the step's timeout still applies: timed-out after 400ms" \
	'F("limited"; "smoke").status == "timed-out" and F("limited"; "smoke").exit_code == null and F("limited"; "smoke").duration_ms >= 400 and F("limited"; "smoke").duration_ms < 900'
check "timeout: the reason is the step timeout" \
	'WF("limited").reason == "failed at step '"'smoke'"' (timed out after 400ms)"'
expect "timeout: the log says why the check stopped" \
	file_has "$(log_of limited smoke)" "stopped: the step's timeout expired"
n=$(requests_to /status/503)
expect "timeout: no request after the step ended (4 or 5 in 400ms, got $n)" test "$n" -ge 3 -a "$n" -le 5

# ---- abort while a request is in flight ----
cat >"$P/abort.yml" <<'YAML'
name: t0500-abort
vars:
  port: "0"
stages:
  - wait-for-it
workflows:
  wait-for-it:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/hang
          within: 60s
      - id: never
        run: echo never
YAML

scenario abort
: >"$SRV/requests"
start_json "$P/abort.yml" --var port="$PORT"
if wait_until 10 has_requests /hang 1; then
	pass "the request reached the server"
else
	fail "no request reached the server"
fi
t_sig=$(now_ms)
kill -INT "$BG"
finish_bg 10
expect_rc 130
check_stream
check "the check ends aborted at once; nothing after it starts" \
	'F("wait-for-it"; "smoke").status == "aborted" and F("wait-for-it"; "smoke").exit_code == null and S("wait-for-it"; "never") == null and WF("wait-for-it").status == "aborted" and RF.status == "aborted"'
expect "it ended right after SIGINT, not after the 10s request timeout ($((BG_END - t_sig)) ms)" \
	test $((BG_END - t_sig)) -lt 2000
expect "the log says it was stopped by the abort" file_has "$(log_of wait-for-it smoke)" "stopped: run aborted"

# ---- plain output: one line per request, like a run step's output ----
scenario plain
: >"$SRV/requests"
timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" run "$P/checks.yml" --var port="$PORT" --var closed="$CLOSED" \
	--state "$STATE" >"$tmp/plain.out" 2>"$tmp/plain.err" </dev/null
rc=$?
expect_rc 1
expect "each request is a line of the workflow's output" \
	grep -qE '^\[flaky\] [0-9T:.Z-]+ #1 status 503 in [0-9]+ms, body "starting": not as expected' "$tmp/plain.out"
expect "... the one that matched too" grep -qE '^\[flaky\] [0-9T:.Z-]+ #3 status 200 in [0-9]+ms, body "ready": as expected$' "$tmp/plain.out"
expect "the summary gives the reason" \
	grep -qF "failed at step 'smoke' (http-check GET $u/status/503: status 503 after 600ms, body \"status 503\")" "$tmp/plain.out"

# ---- proxies: loopback hosts never go through one ----
# The proxy variables name a port where nothing listens: a check that went
# through the proxy could only fail ("connection refused").
cat >"$P/proxy.yml" <<'YAML'
name: t0500-proxy
vars:
  port: "0"
stages:
  - workflow: local
  - workflow: localhost
    parallel: true
workflows:
  local:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/status/200
          within: 2s
  localhost:
    steps:
      - id: smoke
        http-check:
          url: http://localhost:${{ vars.port }}/status/200
          within: 2s
YAML
for np in "" "example.com,.corp"; do
	scenario "proxy${np:+-no_proxy}"
	: >"$SRV/requests"
	http_proxy=http://127.0.0.1:$CLOSED HTTP_PROXY=http://127.0.0.1:$CLOSED \
		no_proxy=$np NO_PROXY=$np run_json "$P/proxy.yml" --var port="$PORT"
	expect_rc 0
	check "both checks succeeded (no_proxy='$np')" \
		'F("local"; "smoke").status == "succeeded" and F("localhost"; "smoke").status == "succeeded"'
	expect "the server got both requests itself" has_requests /status/200 2
done

stop_server
finish
