#!/bin/bash
# t0230-loader-limits: what the loader refuses so that a run never starts
# on something it cannot carry out, and what it still accepts at the edge.
#
#   names    a workflow instance name is the directory of its logs and a
#            step id names its log files (STATE/logs/RUN/WORKFLOW/
#            STEP.ATTEMPT.log): names at the 255-byte limit run and write
#            their logs; one byte more is refused by check and by run
#            (exit 3, FILE:LINE:COL, nothing run).
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
case $LOCKSTEP in /*) ;; *) LOCKSTEP=$PWD/$LOCKSTEP ;; esac
command -v timeout >/dev/null || { echo "t0230: timeout is required" >&2; exit 1; }
[ -x "$LOCKSTEP" ] || { echo "t0230: no lockstep binary at $LOCKSTEP" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t0230.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# rep CHAR N: N copies of CHAR.
rep() { printf "%$2s" "" | tr ' ' "$1"; }

# expect_file NAME PATH TEXT: PATH exists and holds TEXT.
expect_file() {
	if [ -f "$2" ] && grep -qF -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1: no file $2 holding '$3'"
	fi
}

# ---- names at the limit run and write their logs ----
wf=$(rep w 255)                        # the longest workflow directory name
id=$(rep s 237)                        # ID.101.k8s-spec.json is 255 bytes
val=$(rep v 245)                       # m[region=VALUE] is 255 bytes
cat >names-ok.yml <<YML
name: names-ok
stages:
  - $wf
  - workflow: m
    parallel: true
    matrix:
      region: [$val]
workflows:
  $wf:
    steps:
      - id: $id
        run: echo long-step-ran
  m:
    steps:
      - run: echo "matrix-step-ran \$LOCKSTEP_MATRIX_REGION"
YML
timeout 60 "$LOCKSTEP" run names-ok.yml --state st-ok >out 2>err
expect_rc "names at the limit: run succeeds" 0 $?
expect_file "the 255-byte workflow's 237-byte step has its log" "st-ok/logs/1/$wf/$id.1.log" long-step-ran
expect_file "the 255-byte matrix instance has its log" "st-ok/logs/1/m[region=$val]/step-1.1.log" "matrix-step-ran $val"

# ---- one byte more is refused before anything runs ----
cat >names-long.yml <<YML
name: names-long
stages:
  - workflow: w
  - workflow: m
    parallel: true
    matrix:
      region: [eu, $(rep v 5000)]
workflows:
  w:
    steps:
      - id: $(rep s 238)
        run: touch ran-w
  m:
    steps:
      - run: touch ran-m
  w$(rep x 300):
    steps:
      - run: touch ran-x
YML
timeout 60 "$LOCKSTEP" check names-long.yml >out 2>err
expect_rc "names one byte too long: check refuses" 3 $?
for want in \
	"names-long.yml:7:20: error: matrix value of 'region' is too long: the log directory names of the instances of workflow m with it would be at least 5010 bytes, at most 255" \
	"names-long.yml:11:13: error: step id is too long: 238 bytes, at most 237, so that the names of its log files (ID.ATTEMPT.log, ID.ATTEMPT.k8s-spec.json) fit in 255 bytes" \
	"names-long.yml:16:3: error: workflow name is too long: its log directory name would be 301 bytes, at most 255"; do
	if grep -qxF -- "$want" err; then pass "check says: ${want%%: error*}"; else fail "check lacks: $want"; cat err; fi
done
timeout 60 "$LOCKSTEP" run names-long.yml --state st-long >out 2>err
expect_rc "... and run refuses it" 3 $?
if grep -qF "names-long.yml:11:13: error: step id is too long" err && [ ! -e ran-w ] && [ ! -e ran-m ] &&
	[ ! -e st-long/logs ]; then
	pass "run said where, ran nothing and wrote no log"
else
	fail "run: $(head -c 300 err); ran: $(ls ran-* 2>/dev/null)"
fi

finish
