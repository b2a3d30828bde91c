#!/bin/bash
# t0530-http-hostile: http-checks against servers that answer badly
# (tests/e2e/http/hostile.py): response headers past 64 KiB (one 10 MiB
# line, one 80 KiB line, 10,000 short lines). Each such request fails with
# a reason of its own and the check tries again within `within`; a plain
# answer still passes.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq, timeout and python3.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$E2E_DIR/http/lib.sh"
unset LOCKSTEP_STATE

serve python3 "$E2E_DIR/http/hostile.py" "$SRV"
BASE=http://127.0.0.1:$PORT

P=$tmp/p
mkdir -p "$P"
cat >"$P/hostile.yml" <<'YAML'
name: t0530-hostile
vars:
  port: "0"
stages:
  - workflow: huge-header
  - workflow: long-header
    parallel: true
  - workflow: many-headers
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
  plain:
    steps:
      - id: smoke
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/ok
          within: 2s
YAML

scenario hostile
: >"$SRV/requests"
run_json "$P/hostile.yml" --var port="$PORT"
expect_rc_is 1
check_stream

# ---- headers past 64 KiB: a failed attempt, tried again ----
for w in huge-header long-header many-headers; do
	reason_is "$w: the reason names the bound" $w \
		"failed at step 'smoke' (http-check GET $BASE/$w: response headers larger than 64 KiB after 1s)"
	L=$(log_of $w smoke)
	n=$(lines_matching "$L" '^[0-9TZ:.-]+ #[0-9]+ response headers larger than 64 KiB after [0-9]+ms: not as expected$')
	expect "$w: every attempt says so, and it tried again within 'within' ($n attempts)" test "$n" -ge 3
done

# ---- what still passes ----
check "plain: an answer with a few headers passes" 'F("plain"; "smoke").status == "succeeded"'

stop_server
finish
