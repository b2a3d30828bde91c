#!/bin/bash
# t0530-http-hostile: http-checks against servers that answer badly
# (tests/e2e/http/hostile.py): response headers past 64 KiB (one 10 MiB
# line, one 80 KiB line, 10,000 short lines), headers that trickle in
# without end, a server that reads the request and never answers, a port
# whose listen queue is full (connecting never completes). Each such
# request fails with a reason of its own and the check tries again within
# `within`; a request that makes no progress gives up after the
# no-progress limit (a quarter of request-timeout, in whole seconds), not
# after request-timeout. A server slower than that limit only by being
# slow to start, and a plain answer, still pass.
#
# Timing: log lines carry wall-clock times (ms); bounds are generous.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq, timeout and python3.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$E2E_DIR/http/lib.sh"
unset LOCKSTEP_STATE

serve python3 "$E2E_DIR/http/hostile.py" "$SRV"
FULL=$(cat "$SRV/full-port")
BASE=http://127.0.0.1:$PORT

# ms_between LOG PATTERN1 PATTERN2: the time from the first line matching
# PATTERN1 to the first one matching PATTERN2 after it.
ms_between() {
	python3 - "$@" <<'PY'
import datetime, re, sys
def ms(line):
    t = datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.timestamp() * 1000
a = b = None
for line in open(sys.argv[1]):
    if a is None and re.search(sys.argv[2], line):
        a = ms(line)
    elif a is not None and re.search(sys.argv[3], line):
        b = ms(line)
        break
print(int(b - a) if a is not None and b is not None else -1)
PY
}

P=$tmp/p
mkdir -p "$P"
cat >"$P/hostile.yml" <<'YAML'
name: t0530-hostile
vars:
  port: "0"
  full: "0"
stages:
  - workflow: huge-header
  - workflow: long-header
    parallel: true
  - workflow: many-headers
    parallel: true
  - workflow: slow-headers
    parallel: true
  - workflow: silent
    parallel: true
  - workflow: silent-default
    parallel: true
  - workflow: unreachable
    parallel: true
  - workflow: slow-start
    parallel: true
  - workflow: plain
    parallel: true
workflows:
  huge-header:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/huge-header
          interval: 200ms
          within: 1s
  long-header:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/long-header
          interval: 200ms
          within: 1s
  many-headers:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/many-headers
          interval: 200ms
          within: 1s
  slow-headers:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/slow-headers
          interval: 200ms
          request-timeout: 4s
          within: 2500ms
  silent:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/stall
          interval: 200ms
          request-timeout: 4s
          within: 2500ms
  silent-default:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/stall
          interval: 200ms
          within: 5s
  unreachable:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.full }}/
          interval: 200ms
          request-timeout: 4s
          within: 2500ms
  slow-start:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/delay/700
          request-timeout: 4s
          within: 3s
  plain:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/ok
          within: 2s
YAML

scenario hostile
: >"$SRV/requests"
run_json "$P/hostile.yml" --var port="$PORT" --var full="$FULL"
expect_rc 1
check_stream

# ---- headers past 64 KiB: a failed attempt, tried again ----
for w in huge-header long-header many-headers; do
	reason_is "$w: the reason names the bound" $w \
		"failed at step 'smoke' (http-check GET $BASE/$w: response headers larger than 64 KiB after 1s)"
	L=$(log_of $w smoke)
	n=$(lines_matching "$L" '^[0-9TZ:.-]+ #[0-9]+ response headers larger than 64 KiB after [0-9]+ms: not as expected$')
	expect "$w: every attempt says so, and it tried again within 'within' ($n attempts)" test "$n" -ge 3
done

# ---- no progress: given up after the no-progress limit ----
reason_is "slow-headers: headers that never end are given up after 1s" slow-headers \
	"failed at step 'smoke' (http-check GET $BASE/slow-headers: response headers not complete in 1s, gave up after 2s500ms)"
L=$(log_of slow-headers smoke)
d=$(ms_between "$L" 'http-check GET' '#1 ')
expect "slow-headers: the first request ended after about 1s, not 4s ($d ms)" test "$d" -ge 900 -a "$d" -lt 2500
expect "slow-headers: and a second one was sent" test "$(requests_to /slow-headers)" -ge 2

reason_is "silent: a server that never answers is given up after 1s" silent \
	"failed at step 'smoke' (http-check GET $BASE/stall: no answer in 1s, gave up after 2s500ms)"
L=$(log_of silent smoke)
expect "silent: each such request is a line" \
	test "$(lines_matching "$L" '#[12] no answer in 1s: not as expected$')" -eq 2
d=$(ms_between "$L" 'http-check GET' '#1 ')
expect "silent: the first request ended after about 1s, not 4s ($d ms)" test "$d" -ge 900 -a "$d" -lt 2500

reason_is "silent-default: at the default request-timeout (10s) the limit is 3s" silent-default \
	"failed at step 'smoke' (http-check GET $BASE/stall: no answer in 3s, gave up after 5s)"
d=$(ms_between "$(log_of silent-default smoke)" 'http-check GET' '#1 ')
expect "silent-default: the first request ended after about 3s, not 10s ($d ms)" test "$d" -ge 2900 -a "$d" -lt 4500
expect "silent: the server saw the requests of both ($(requests_to /stall))" test "$(requests_to /stall)" -ge 4

reason_is "unreachable: connecting is given up after 1s" unreachable \
	"failed at step 'smoke' (http-check GET http://127.0.0.1:$FULL/: could not connect in 1s, gave up after 2s500ms)"
n=$(lines_matching "$(log_of unreachable smoke)" '#[0-9]+ could not connect in 1s: not as expected$')
expect "unreachable: it tried again ($n attempts gave up)" test "$n" -ge 2

# ---- what still passes ----
check "slow-start: 700ms before the answer is not 'no progress'; a plain answer passes" \
	'F("slow-start"; "smoke").status == "succeeded" and F("plain"; "smoke").status == "succeeded"'
expect "slow-start: one request did it" grep -qE '#1 status 200 in [0-9]+ms, body "ok": as expected$' \
	"$(log_of slow-start smoke)"

stop_server
finish
