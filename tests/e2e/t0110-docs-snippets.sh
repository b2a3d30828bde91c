#!/bin/bash
# Every ```yaml block in README.md and docs/*.md is a whole pipeline file
# that `lockstep check` accepts; a block fenced as ```yaml invalid must be
# refused with exit 3. Keeps the documentation true. (A manifest shown in
# the docs is fenced ```yaml manifest, which is not a pipeline; a
# `file=NAME` after the kind names the file for the console excerpts,
# t0115.)
#
# The blocks are checked next to tests/e2e/docs/k8s/, so that the
# Kubernetes examples find the manifests they name (k8s/backend/,
# k8s/frontend/, k8s/shared/); their check needs kubectl on PATH.
set -u
. "$(dirname "$0")/lib/common.sh"

cp -R "$SRC/tests/e2e/docs/k8s" "$tmp/k8s"

nblocks=0
for doc in "$SRC"/README.md "$SRC"/docs/*.md; do
	[ -f "$doc" ] || continue
	rel=${doc#"$SRC"/}
	# Split the document into one file per yaml block: NNN-LINE-valid.yml
	# or NNN-LINE-invalid.yml, LINE being where the block starts.
	rm -f "$tmp"/*.yml
	awk -v dir="$tmp" '
		/^```yaml( invalid)?( file=[^[:space:]]+)?[[:space:]]*$/ && !inblock {
			inblock = 1; n++
			kind = ($0 ~ /invalid/) ? "invalid" : "valid"
			file = sprintf("%s/%03d-%d-%s.yml", dir, n, NR + 1, kind)
			printf "" > file
			next
		}
		/^```[[:space:]]*$/ && inblock { inblock = 0; close(file); next }
		inblock { print >> file }
	' "$doc"
	for f in "$tmp"/*.yml; do
		[ -e "$f" ] || continue
		nblocks=$((nblocks + 1))
		base=$(basename "$f" .yml)
		line=$(cut -d- -f2 <<<"$base")
		kind=$(cut -d- -f3 <<<"$base")
		cmd check "$f"
		if [ "$kind" = invalid ]; then
			expect_rc 3 "$rel:$line: invalid example is refused"
		else
			expect_rc 0 "$rel:$line: example is valid"
		fi
	done
done
if [ "$nblocks" -lt 10 ]; then
	fail "expected at least 10 yaml examples in the docs, found $nblocks"
fi
finish
