#!/bin/bash
# Every example pipeline passes `lockstep check` and renders a plan, except
# the ones named *-swapped.yml, which show a deadlock and must be refused.
set -u
. "$(dirname "$0")/lib/common.sh"

shopt -s nullglob
files=("$SRC"/examples/*/*.yml)
expect "at least 3 example pipelines under examples/ (${#files[@]})" test ${#files[@]} -ge 3
for f in "${files[@]}"; do
	name=${f#"$SRC"/}
	cmd check "$f"
	case $f in
	*-swapped.yml)
		expect_rc 3 "check $name is refused"
		expect "$name: reports the barrier deadlock" err_has "barrier deadlock"
		;;
	*)
		expect_rc 0 "check $name"
		for fmt in text json dot mermaid; do
			cmd plan "$f" --format "$fmt"
			expect_rc 0 "plan $name --format $fmt"
		done
		;;
	esac
done
finish
