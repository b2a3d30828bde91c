#!/usr/bin/env python3
"""Runs the command excerpts of the documentation and compares their output.

    excerpts.py WORKDIR DOC.md...

A fenced block whose info string is `console` is a transcript: each line
that starts with "$ " is a command, and the lines after it, up to the next
command or the end of the block, are what it prints (standard output and
standard error together). The commands of all the blocks run in WORKDIR,
one bash per block, in the order of the files given and of the blocks in
each file; so a block may use what an earlier one made (a run, and so its
run id).

A fenced block whose info string is `yaml ... file=NAME` is written to
WORKDIR/NAME before any command runs, so that a transcript can name it.

What a command prints is compared with the block after normalising both:
  - times: RFC 3339 stamps, local date-times and durations (150ms, 3.1s,
    1m05s, 2h03m, +135ms) become placeholders;
  - pids (`pid 4242`, and the host after `on`) become placeholders;
  - WORKDIR/ is removed from paths; runs of spaces become one space.
In the block, a line that is only "..." stands for any number of lines
(none included), and "..." inside a line for any text.

Prints one "ok - " or "FAIL - " line per command (with a diff for a
failure) and exits 1 when any failed.
"""
import os
import re
import subprocess
import sys

WORK = sys.argv[1]
DOCS = sys.argv[2:]
SUBST = []  # (text in the output, what the docs say), from EXCERPT_SUBST
for pair in os.environ.get("EXCERPT_SUBST", "").split():
    got, _, want = pair.partition("=")
    SUBST.append((got, want))

FENCE = re.compile(r"^```(\S*)(.*)$")


def blocks(path):
    """(kind, info, first line number, lines) of each fenced block."""
    out = []
    kind = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            m = FENCE.match(line.strip()) if line.lstrip().startswith("```") else None
            if kind is None and m:
                kind, info, start, body = m.group(1), m.group(2).strip(), n + 1, []
                indent = len(line) - len(line.lstrip())
            elif kind is not None and line.strip() == "```":
                out.append((kind, info, start, body))
                kind = None
            elif kind is not None:
                body.append(line[indent:] if line[:indent].strip() == "" else line)
    return out


TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
DUR = re.compile(r"(?<![\w.])\+?\d+(\.\d+)?(ms|s)(?![\w])|(?<![\w.])\+?\d+[mh]\d\d[sm](?![\w])")
PID = re.compile(r"\bpid \d+( on \S+)?")


def normalise(line):
    line = line.replace(WORK + "/", "")
    for got, want in SUBST:
        line = line.replace(got, want)
    line = TS.sub("<ts>", line)
    line = DATE.sub("<date>", line)
    line = PID.sub(lambda m: "pid <pid>" + (" on <host>" if m.group(1) else ""), line)
    line = DUR.sub("<dur>", line)
    return " ".join(line.split())


def pattern(line):
    """A line of the docs as a regex: '...' matches any text."""
    return re.compile("^" + ".*".join(re.escape(p) for p in normalise(line).split("...")) + "$")


def matches(want, got):
    """True when the lines `got` fit the lines `want` ('...' lines: any number)."""
    memo = {}

    def fit(i, j):
        if (i, j) in memo:
            return memo[i, j]
        if i == len(want):
            r = j == len(got)
        elif want[i].strip() == "...":
            r = fit(i + 1, j) or (j < len(got) and fit(i, j + 1))
        else:
            r = j < len(got) and bool(pattern(want[i]).match(normalise(got[j]))) and fit(i + 1, j + 1)
        memo[i, j] = r
        return r

    sys.setrecursionlimit(100000)
    return fit(0, 0)


def transcript(body):
    """[(command, expected lines)] of a console block."""
    cmds = []
    for line in body:
        if line.startswith("$ "):
            cmds.append((line[2:], []))
        elif cmds:
            cmds[-1][1].append(line)
    return cmds


MARK = "\x1e--lockstep-docs-excerpt--"


def run_block(cmds):
    """Runs the commands in one bash; returns the output of each."""
    script = []
    for cmd, _ in cmds:
        script.append("printf '%s\\n' " + "'" + MARK + "'")
        # `( exit $rc )` keeps $? for a following `echo $?`.
        script.append("( exit $__rc ); { %s\n} 2>&1; __rc=$?" % cmd)
    p = subprocess.run(["bash", "-c", "__rc=0\n" + "\n".join(script)], cwd=WORK,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    parts = p.stdout.decode("utf-8", "replace").split(MARK + "\n")[1:]
    return [part.splitlines() for part in parts]


def main():
    failed = ok = 0
    found = []
    for doc in DOCS:
        rel = os.path.relpath(doc, os.environ.get("LOCKSTEP_SOURCE_DIR", "."))
        for kind, info, start, body in blocks(doc):
            m = re.search(r"\bfile=(\S+)", info)
            if kind == "yaml" and m:
                with open(os.path.join(WORK, m.group(1)), "w", encoding="utf-8") as f:
                    f.write("\n".join(body) + "\n")
            if kind == "console":
                found.append((rel, start, body))
    for rel, start, body in found:
        cmds = transcript(body)
        if not cmds:
            print("FAIL - %s:%d: a console block without a '$ ' command" % (rel, start))
            failed += 1
            continue
        outs = run_block(cmds)
        for (cmd, want), got in zip(cmds, outs + [[]] * (len(cmds) - len(outs))):
            if matches(want, got):
                ok += 1
                print("ok - %s:%d: $ %s" % (rel, start, cmd))
                continue
            failed += 1
            print("FAIL - %s:%d: $ %s: the output differs from the docs" % (rel, start, cmd))
            for w in want:
                print("     want | " + normalise(w))
            for g in got[:60]:
                print("      got | " + normalise(g))
    print("%d excerpts commands as documented, %d not" % (ok, failed))
    return 1 if failed or not found else 0


if __name__ == "__main__":
    sys.exit(main())
