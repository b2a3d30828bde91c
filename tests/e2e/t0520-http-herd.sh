#!/bin/bash
# t0520-http-herd: 300 http-checks of one endpoint at once, a 300-instance
# matrix against `python3 -m http.server` as it comes (a listen backlog of
# 5). When the checks' first requests all arrived together, the server's
# kernel dropped connections it had no room for; their requests then sat
# in silence until their request timeout. With `within: 11s`, a request
# that waits out the default request-timeout (10s) leaves no room for the
# next one 2s later: one such request fails its check. So the run fails
# unless the first requests are spaced out (the pacer) and a request that
# gets no answer is given up early and tried again (the no-progress limit:
# 3s at the default request-timeout).
#
# Also checked: the requests reached the server spread over the 2 s
# interval, not in bursts (its request log, each line stamped as it came).
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq, timeout and python3.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$E2E_DIR/http/lib.sh"
unset LOCKSTEP_STATE

# ---- the server: python's, unchanged, on a free port ----
# It logs each request to stderr as it answers it ($SRV/stderr, stamped).
DOCS=$tmp/docs
mkdir -p "$DOCS"
printf ready >"$DOCS/health"
serve python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$DOCS"

P=$tmp/p
mkdir -p "$P"
cat >"$P/herd.yml" <<'YAML'
name: t0520-herd
vars:
  port: "0"
stages:
  - workflow: verify
    matrix:
      zone: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o]
      node: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
workflows:
  verify:
    steps:
      - id: health
        http-check:
          url: http://127.0.0.1:${{ vars.port }}/health
          expect-body: ^ready$
          within: 11s
YAML

scenario herd
run_json "$P/herd.yml" --var port="$PORT"
n_ok=$(jq -s '[.[] | select(.event == "workflow.finished" and .status == "succeeded")] | length' "$EVENTS")
if [ "$rc" -eq 0 ] && [ "$n_ok" -eq 300 ]; then
	pass "all 300 checks succeeded (exit 0, in ${elapsed_ms} ms)"
else
	fail "exit $rc, $n_ok of 300 checks succeeded; the first failures:"
	jq -r 'select(.event == "workflow.finished" and .status != "succeeded") | "     | \(.workflow): \(.reason)"' \
		"$EVENTS" | head -5
fi
n_req=$(grep -c '"GET /health ' "$SRV/stderr")
expect "the server answered at least 300 requests (got $n_req)" test "$n_req" -ge 300

# The pacer spaces these first requests 6.7 ms apart, 2 s in all, about
# 15 in 100 ms; a loop that runs late may bunch a few, never the lot.
read -r n span most < <(python3 "$E2E_DIR/http/spread.py" 100 '"GET /health ' "$SRV/stderr")
expect "the requests came over the 2s interval, not at once ($n over $span ms)" \
	test "${span:-0}" -ge 1500
expect "at most 30 requests came in any 100 ms (at most $most)" test "${most:-999}" -le 30
stop_server
finish
