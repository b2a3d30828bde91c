#!/bin/bash
# replay-test: the replay driver (replay.c) of the fuzz targets, run as
# fuzz_load: it replays every file it is given, and it fails, saying why,
# when a path it is given holds no input at all, so that an empty or
# misplaced corpus never passes as a replay.
#
# Usage: replay-test.sh FUZZ_TARGET (a target built with replay.c).
set -u
# The binary under test is the fuzz target: cmd runs it.
LOCKSTEP=${1:?usage: replay-test.sh FUZZ_TARGET}
# shellcheck source=../e2e/lib/common.sh
. "$(dirname "$0")/../e2e/lib/common.sh"
corpus=$SRC/tests/fuzz/corpus/load

mkdir empty dotfiles-only
: >dotfiles-only/.hidden
printf 'name: p\nstages: [a]\nworkflows:\n  a: {steps: [{run: x}]}\n' >one.yml

begin "an empty directory: exit 1, and it says why"
cmd empty
expect_rc 1
expect_err "^replay: empty: no input in it: an empty corpus tests nothing$"
expect_out '^replayed 0 inputs$'
end

begin "a directory of dotfiles only holds no input either"
cmd dotfiles-only
expect_rc 1
expect_err "^replay: dotfiles-only: no input in it"
end

begin "an input and an empty directory: the input runs, the empty directory fails the replay"
cmd one.yml empty
expect_rc 1
expect_err '^Running: one\.yml$'
expect_err "^replay: empty: no input in it"
expect_out '^replayed 1 inputs$'
end

begin "one input: exit 0"
cmd one.yml
expect_rc 0
expect_out '^replayed 1 inputs$'
end

n=$(find "$corpus" -type f ! -name '.*' | wc -l)
begin "the corpus: exit 0, every one of its $n files replayed"
cmd "$corpus"
expect_rc 0
expect "more than one input in the corpus" test "$n" -gt 1
expect_out "^replayed $n inputs$"
end

begin "a path that does not exist: exit 1"
cmd no-such-corpus
expect_rc 1
expect_err '^replay: no-such-corpus: No such file or directory$'
end

begin "no path: usage, exit 2"
cmd
expect_rc 2
expect_err '^usage: '
end

finish
