#!/bin/bash
# t0130-install: `make install PREFIX=DIR` and what it installs.
#   1. the binary, the manual page, the docs (README.md, docs/*.md,
#      examples/) in share/doc/lockstep/, bash and zsh completion;
#   2. the installed binary's --help points at the installed docs;
#   3. `man -l` and `groff -ww` render the page without a warning, and it
#      names every command, every option of every command's --help, every
#      exit code and the state files;
#   4. bash completion completes `lockstep sh` to `show`, options, option
#      values and run ids (with `lockstep runs --json`); zsh completion
#      completes `lockstep sh` to `show`.
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR, LOCKSTEP_BUILD_DIR (the
# build directory of LOCKSTEP; default: the binary's directory). Needs
# make, cmake, man (man-db), groff (groff-base) and zsh: make deps installs them.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE
BUILD=${LOCKSTEP_BUILD_DIR:-$(dirname "$LOCKSTEP")}
P=$tmp/prefix
DOC=$P/share/doc/lockstep
MAN=$P/share/man/man1/lockstep.1
BASHC=$P/share/bash-completion/completions/lockstep
ZSHC=$P/share/zsh/site-functions/_lockstep

# ---- 1. the files ----
scenario files
timeout -k 2 240 make -C "$SRC" install PREFIX="$P" BUILD="$BUILD" >"$tmp/make.out" 2>&1 </dev/null
rc=$?
expect_rc 0
[ "$rc" -eq 0 ] || tail -20 "$tmp/make.out" | sed 's/^/     | /'
for f in bin/lockstep share/man/man1/lockstep.1 share/doc/lockstep/README.md \
	share/doc/lockstep/docs/cli.md share/doc/lockstep/docs/pipeline-format.md \
	share/doc/lockstep/docs/events.md share/doc/lockstep/examples/multi-service/pipeline.yml \
	share/bash-completion/completions/lockstep share/zsh/site-functions/_lockstep; do
	expect "$f is installed" test -f "$P/$f"
done
expect "the installed binary runs" test -x "$P/bin/lockstep"
expect "the examples' scripts stay executable" test -x "$DOC/examples/multi-service/scripts/deploy.sh"

# ---- 2. --help ----
scenario help
"$P/bin/lockstep" --help >"$tmp/help.out" 2>&1
expect "the installed binary's --help names the installed docs" grep -qF "docs: man lockstep; $DOC/" "$tmp/help.out"

# ---- 3. the manual page ----
scenario man
MANWIDTH=80 man -l "$MAN" >"$tmp/man.txt" 2>"$tmp/man.err"
rc=$?
expect_rc 0
if [ -s "$tmp/man.err" ]; then
	fail "man -l warns: $(head -5 "$tmp/man.err")"
else
	pass "man -l renders it without a word on stderr"
fi
groff -man -ww -z "$MAN" >"$tmp/groff.err" 2>&1
if [ -s "$tmp/groff.err" ]; then
	fail "groff -ww warns: $(head -5 "$tmp/groff.err")"
else
	pass "groff -ww -z renders it without a warning"
fi
# The rendered text, without hyphenation at line ends, on one line per paragraph.
tr -d '\010' <"$tmp/man.txt" | sed 's/‐$//; s/-$//' | tr -s ' \n' '  ' >"$tmp/man.flat"
expect "it has the version" grep -qF "lockstep $("$P/bin/lockstep" --version | cut -d' ' -f2)" "$tmp/man.flat"
for cmd in check plan run runs show logs resume abort; do
	expect "it names the command $cmd" grep -qF "lockstep $cmd" "$tmp/man.flat"
	for opt in $("$P/bin/lockstep" "$cmd" --help | grep -oE -- '(^|[^a-z])--?[a-zA-Z][a-z-]*' | grep -oE -- '--?[a-zA-Z][a-z-]*' | sort -u); do
		if grep -qE -- "(^|[^a-z-])$opt([^a-z-]|$)" "$tmp/man.flat"; then
			pass "$cmd's option $opt is in it"
		else
			fail "$cmd's option $opt (in its --help) is not in the page"
		fi
	done
done
awk '/^EXIT STATUS/ { s = 1; next } /^[A-Z]/ { s = 0 } s' "$tmp/man.txt" >"$tmp/man.exit"
for code in 0 1 2 3 4 130; do
	expect "it has exit status $code" grep -qE "^ {7}$code( |\$)" "$tmp/man.exit"
done
for f in lockstep.db "logs/RUN/WORKFLOW/STEP.ATTEMPT.log" share/doc/lockstep bash-completion/completions/lockstep \
	zsh/site-functions/_lockstep LOCKSTEP_STATE NO_COLOR; do
	expect "it names $f" grep -qF -- "$f" "$tmp/man.flat"
done

# ---- 4. completion ----
scenario bash-completion
state=$tmp/state
"$P/bin/lockstep" run "$SRC/tests/e2e/run/t0320-mark.yml" --state "$state" >/dev/null 2>&1
"$P/bin/lockstep" run "$SRC/tests/e2e/run/t0320-mark.yml" --state "$state" >/dev/null 2>&1
# complete WORD...: what bash completion offers for the last word.
complete_bash() {
	PATH=$P/bin:$PATH bash --norc --noprofile -c '
		. "$1"
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMPREPLY=()
		_lockstep
		printf "%s\n" "${COMPREPLY[@]}"' bash "$BASHC" "$@" 2>&1 | sort | tr '\n' ' ' | sed 's/ $//'
}
offers() { # DESCRIPTION WANT WORD...
	local d=$1 want=$2 got
	shift 2
	got=$(complete_bash "$@")
	if [ "$got" = "$want" ]; then
		pass "$d"
	else
		fail "$d: '$*' offers '$got', want '$want'"
	fi
}
offers "lockstep sh completes to show" "show" lockstep sh
offers "the commands that start with r" "resume run runs" lockstep r
offers "show's options" "--help --json --state" lockstep show --
offers "plan's formats" "dot json mermaid text" lockstep plan p.yml --format ""
offers "runs' statuses" "failed" lockstep runs --status f
offers "run ids of the state directory, and last" "1 2 last" lockstep show --state "$state" ""
offers "run ids with --state=DIR, as bash splits it" "1 2 last" lockstep logs --state = "$state" ""
offers "nothing after the run id of show" "" lockstep show --state "$state" 2 ""
# Interactive: the file sourced by `bash -i`, completion registered.
got=$(PATH=$P/bin:$PATH bash --norc --noprofile -i -c ". '$BASHC'; complete -p lockstep" 2>/dev/null)
if [ "$got" = "complete -F _lockstep lockstep" ]; then
	pass "bash -i: sourcing it registers the completion"
else
	fail "bash -i: 'complete -p lockstep' says '$got'"
fi

scenario zsh-completion
# make deps installs zsh: a zsh completion that was not tried has not passed.
need zsh
zsh -n "$ZSHC" 2>"$tmp/zsh.err"
expect "zsh reads the file without an error" test ! -s "$tmp/zsh.err"
# complete_zsh LINE: the command line after LINE and a TAB, in an
# interactive zsh on a pseudo-terminal (zpty), with this fpath.
complete_zsh() {
	rm -f "$tmp/zbuf"
	PATH=$P/bin:$PATH timeout -k 2 20 zsh -f -c '
		zmodload zsh/zpty
		zpty z zsh -f -i
		zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; dump() { print -r -- \"\$BUFFER\" >| $2; }; zle -N dump; bindkey \"^X\" dump; PS1=\"> \""
		zpty -w -n z "$3"$'"'"'\t\x18'"'"'
		for i in {1..100}; do [[ -s $2 ]] && break; sleep 0.1; done
		zpty -d z' zsh "$(dirname "$ZSHC")" "$tmp/zbuf" "$1" >/dev/null 2>&1
	cat "$tmp/zbuf" 2>/dev/null
}
for t in "lockstep sh|lockstep show " "lockstep plan x.yml --format me|lockstep plan x.yml --format mermaid " \
	"lockstep runs --status int|lockstep runs --status interrupted "; do
	got=$(complete_zsh "${t%%|*}")
	if [ "$got" = "${t#*|}" ]; then
		pass "'${t%%|*}' completes to '${t#*|}'"
	else
		fail "'${t%%|*}' completes to '$got', want '${t#*|}'"
	fi
done

finish
