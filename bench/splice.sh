#!/bin/sh
# splice.sh RESULTS DOC: replaces the part of DOC between the lines
# "<!-- bench:begin -->" and "<!-- bench:end -->" with the file RESULTS
# (its first heading dropped), so `make bench` regenerates the tables of
# docs/performance.md and leaves the prose around them alone.
set -eu
results=$1
doc=$2
grep -q '^<!-- bench:begin -->$' "$doc" || { echo "splice.sh: no bench:begin marker in $doc" >&2; exit 1; }
grep -q '^<!-- bench:end -->$' "$doc" || { echo "splice.sh: no bench:end marker in $doc" >&2; exit 1; }
tmp=$doc.tmp.$$
awk -v results="$results" '
	/^<!-- bench:begin -->$/ {
		print
		skip_heading = 1
		while ((getline line < results) > 0) {
			# The results file starts with its own "# " title: the
			# document has one already.
			if (skip_heading && line ~ /^# /) { skip_heading = 0; continue }
			gsub(/^## /, "### ", line)
			print line
		}
		inside = 1
		next
	}
	/^<!-- bench:end -->$/ { inside = 0 }
	!inside { print }
' "$doc" >"$tmp"
mv "$tmp" "$doc"
