#!/bin/bash
# t0115-docs-excerpts: the command excerpts of the documentation are what
# lockstep prints, so that they cannot go stale.
#   1. every ```console block of README.md and docs/*.md is run
#      (tests/e2e/docs/excerpts.py says how: "$ " lines are commands, the
#      lines after them their output, "..." any lines) in a copy of the
#      examples, with `lockstep` and `build/lockstep` the binary under
#      test and a state directory whose run 1 is
#      examples/multi-service/pipeline.yml; the blocks then make the runs
#      they show (run 2 is the README's);
#   2. the synopsis of each command in docs/cli.md, at the top and in the
#      command's section, is the usage line of its --help, and every
#      option its --help lists is in the command's section.
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs python3, jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE
W=$tmp/work
mkdir -p "$W/bin" "$W/build"
copy_example . "$W/examples"
ln -s "$LOCKSTEP" "$W/bin/lockstep"
ln -s "$LOCKSTEP" "$W/build/lockstep"
# The services of the multi-service example get ports of their own here;
# the output says the documented ones (18081, 18082).
ms_ports
for f in "$W"/examples/multi-service/*.yml; do
	sed -i -e "s/\"18081\"/\"$MS_BACKEND_PORT\"/" -e "s/\"18082\"/\"$MS_FRONTEND_PORT\"/" "$f"
done
export EXCERPT_SUBST="$MS_BACKEND_PORT=18081 $MS_FRONTEND_PORT=18082"
export LOCKSTEP_STATE=$W/.lockstep PATH=$W/bin:$PATH LOCKSTEP_SOURCE_DIR=$SRC

# ---- 1. the excerpts ----
scenario excerpts
(cd "$W" && timeout -k 2 60 lockstep run examples/multi-service/pipeline.yml) >"$tmp/run1" 2>&1 </dev/null
rc=$?
expect_rc 0
docs=("$SRC/README.md")
for f in "$SRC"/docs/*.md; do docs+=("$f"); done
timeout -k 2 240 python3 "$E2E_DIR/docs/excerpts.py" "$W" "${docs[@]}" >"$tmp/excerpts.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"FAIL - "*) fail "${line#FAIL - }" ;;
	*) echo "$line" ;;
	esac
done <"$tmp/excerpts.out"
[ "$rc" -eq 0 ] || fail "excerpts.py exited $rc"

# ---- 2. synopses ----
scenario synopses
# synopses_in FILE CMD: the synopses "lockstep CMD FILE|RUN|[..." in FILE's
# blocks (the top one and the command's own section), whitespace squeezed.
synopses_in() {
	awk -v cmd="$2" '
		/^```/ { inblock = !inblock; next }
		inblock && $1 == "lockstep" && $2 == cmd && $3 ~ /^(FILE|RUN|\[)/ { $1 = $1; print }' "$1"
}
for cmd in check plan run runs show logs resume abort; do
	usage=$("$LOCKSTEP" "$cmd" --help | awk '/^usage:/ { u = 1 } u && /^$/ { exit } u' |
		sed 's/^usage: //' | tr -s ' \n' '  ' | sed 's/ $//')
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		if [ "$line" = "$usage" ]; then
			pass "docs/cli.md's synopsis of $cmd ($n) is its --help's"
		else
			fail "docs/cli.md's synopsis of $cmd ($n) differs from --help"
			echo "     docs | $line"
			echo "     help | $usage"
		fi
	done < <(synopses_in "$SRC/docs/cli.md" "$cmd")
	[ "$n" -ge 2 ] || fail "docs/cli.md has $n synopses of $cmd, want the top one and its section's"
	# Every option of --help is in the command's section of cli.md.
	section=$(awk -v h="## lockstep $cmd" '$0 == h { s = 1; next } s && /^## / { exit } s' "$SRC/docs/cli.md")
	for opt in $("$LOCKSTEP" "$cmd" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		if grep -qF -- "\`$opt" <<<"$section"; then
			pass "$cmd: $opt is documented in its section"
		else
			fail "$cmd: $opt (in --help) is not in docs/cli.md's section"
		fi
	done
done

finish
