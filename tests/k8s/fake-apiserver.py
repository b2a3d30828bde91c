#!/usr/bin/env python3
"""A small fake Kubernetes API server for the test suite.

It serves, over plain HTTP on 127.0.0.1, just what the real `kubectl`
(verified with 1.20 and 1.27 to 1.33) needs for apply, get, rollout
status, rollout history and rollout undo of Deployments, StatefulSets and
DaemonSets, and keeps everything in memory. A simulated controller rolls
workloads out over a short, configurable time, with ReplicaSets,
ControllerRevisions and Pods as the real controllers make them, and can be
made to stall (ImagePullBackOff, then ProgressDeadlineExceeded) so that
tests see what a failed rollout looks like. Every request goes to a JSON
lines log when asked.

Python 3 standard library only. See docs/testing-kubernetes.md for what is
and is not implemented; `fake-apiserver.py --help` for the flags.

Tests start this one script, with nothing to install. The code is in the
fakeapi package next to it, one concept per module (fakeapi/__init__.py
lists them: resource types, errors, selectors, patches, protobuf bodies,
defaulting, the store, writes, the simulated controllers, discovery and
OpenAPI, tables, HTTP, start-up). This file only makes that package
importable, from any working directory, and runs it.
"""

import os
import sys

# The package is next to this file, whatever the working directory. Its
# bytecode is not cached, so running the tests leaves no __pycache__ in
# the source tree (as when all of this was one script).
HERE = os.path.dirname(os.path.realpath(__file__))
if sys.path[:1] != [HERE]:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

from fakeapi.server import main  # noqa: E402 (needs the sys.path set-up above)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
