#!/bin/bash
# t0540-http-env: an http-check's url and headers read `${{ env.X }}`,
# the env its workflow and its environment give it, known before the run:
#   1. one stage entry, a matrix over environments: each instance checks
#      the port and sends the token of its own environment (the workflow's
#      env winning over the environment's), and `plan` shows the urls;
#   2. `check` refuses, at the reference, an X that neither env sets (with
#      a suggestion), an X whose value is known only when the run starts
#      (`${{ run.id }}`), and env.* anywhere but an http-check's url and
#      headers.
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq, timeout and python3.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$E2E_DIR/http/lib.sh"
unset LOCKSTEP_STATE

serve python3 "$E2E_DIR/http/server.py" "$SRV"

cat >"$tmp/envs.yml" <<'YAML'
name: t0540-envs
vars:
  port: "0"
environments:
  qa:
    env: { PORT: "${{ vars.port }}", TOKEN: qa-token, WHAT: echo }
  prod:
    env: { PORT: "${{ vars.port }}", TOKEN: prod-token, WHAT: nothing-here }
stages:
  - workflow: verify
    environment: ${{ matrix.env }}
    matrix:
      env: [qa, prod]
workflows:
  verify:
    env: { WHAT: echo }
    steps:
      - id: probe
        http-check:
          url: http://127.0.0.1:${{ env.PORT }}/${{ env.WHAT }}
          headers:
            X-Token: ${{ env.TOKEN }}
          expect-body: X-Token=${{ matrix.env }}-token
          interval: 100ms
          within: 5s
YAML

# ---- 1. a run ----
scenario run
"$LOCKSTEP" plan "$tmp/envs.yml" --var "port=$PORT" >"$tmp/plan" 2>&1
if grep -qF "http-check http://127.0.0.1:$PORT/echo" "$tmp/plan"; then
	pass "plan shows the url with the environment's port and the workflow's path"
else
	fail "plan does not show http://127.0.0.1:$PORT/echo"
	sed 's/^/     | /' "$tmp/plan" | grep http-check
fi
run_json "$tmp/envs.yml" --var "port=$PORT"
expect_rc 0
check "each instance's check succeeded" \
	'F("verify[env=qa]"; "probe").status == "succeeded" and F("verify[env=prod]"; "probe").status == "succeeded"'
expect "each sent its own environment's token (the body matched it)" \
	test "$(requests_to /echo)" -ge 2
expect "the workflow's WHAT won over prod's" test "$(requests_to /nothing-here)" -eq 0

# ---- 2. check ----
scenario check
cat >"$tmp/bad.yml" <<'YAML'
name: t0540-bad
environments:
  qa:
    env: { PORT: "8080", RELEASE: "r${{ run.id }}" }
stages:
  - workflow: verify
    environment: qa
workflows:
  verify:
    steps:
      - http-check: http://127.0.0.1:${{ env.PROT }}/
      - http-check:
          url: http://127.0.0.1:${{ env.PORT }}/
          headers: { X-Release: "${{ env.RELEASE }}" }
      - run: echo ${{ env.PORT }}
YAML
(cd "$tmp" && "$LOCKSTEP" check bad.yml) >"$tmp/check.out" 2>&1
rc=$?
expect_rc 3
want() { # DESCRIPTION LINE
	if grep -qxF -- "$2" "$tmp/check.out"; then
		pass "$1"
	else
		fail "$1: no line '$2'"
		sed 's/^/     | /' "$tmp/check.out"
	fi
}
want "an X that neither env sets, with a suggestion" \
	"bad.yml:11:38: error: env 'PROT' is set by neither the workflow's env nor its environment's (did you mean 'PORT'?) in url of workflow verify"
want "an X known only when the run starts" \
	"bad.yml:14:34: error: env 'RELEASE' is known only when the run starts (its value uses \${{ run.id }}) in headers of workflow verify"
want "env.* in a run step" \
	"bad.yml:15:19: error: env.* is not available in run: only http-check urls and headers read it (a run step reads \$NAME)"

finish
