#!/bin/bash
# Every example pipeline passes `lockstep check` and renders a plan, except
# the ones named *-swapped.yml, which show a deadlock and must be refused.
set -u
. "$(dirname "$0")/lib/common.sh"

shopt -s nullglob
files=("$SRC"/examples/*/*.yml)
if [ ${#files[@]} -lt 3 ]; then
	fail "expected example pipelines under examples/, found ${#files[@]}"
fi
for f in "${files[@]}"; do
	name=${f#"$SRC"/}
	out=$("$LOCKSTEP" check "$f" 2>&1)
	rc=$?
	case $f in
	*-swapped.yml)
		expect_rc "check $name is refused" 3 "$rc"
		if grep -q "barrier deadlock" <<<"$out"; then
			pass "$name: reports the barrier deadlock"
		else
			fail "$name: no deadlock reported: $out"
		fi
		;;
	*)
		expect_rc "check $name" 0 "$rc"
		[ "$rc" -eq 0 ] || echo "$out"
		for fmt in text json dot mermaid; do
			"$LOCKSTEP" plan "$f" --format "$fmt" >/dev/null 2>&1
			expect_rc "plan $name --format $fmt" 0 $?
		done
		;;
	esac
done
finish
