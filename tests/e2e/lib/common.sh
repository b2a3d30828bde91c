# Shared helpers for the e2e scripts: locate the binary and the sources,
# count passes and failures, print the closing summary line.
# shellcheck shell=bash

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=${LOCKSTEP_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}
LOCKSTEP=${LOCKSTEP:-$SRC/build/lockstep}
export NO_COLOR=1
PASSED=0
FAILED=0

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $*"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL - $*"
}

# expect_rc NAME WANT GOT
expect_rc() {
	if [ "$2" -eq "$3" ]; then
		pass "$1 (exit $3)"
	else
		fail "$1: expected exit $2, got $3"
	fi
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
