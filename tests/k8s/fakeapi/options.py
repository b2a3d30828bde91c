"""The command line: parse_args() and ARGS, the parsed options.

ARGS is one argparse.Namespace, created empty here and filled in by
server.main(), so that every module can import it by name and see the
options of this run.
"""

import argparse
import re

from .common import ANN_READY


ARGS = argparse.Namespace()  # the parsed command line, filled in by server.main()


def parse_args(argv):
    p = argparse.ArgumentParser(description="A fake Kubernetes API server for kubectl-driven tests (plain HTTP, in memory).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: the OS chooses)")
    p.add_argument("--url-file", help="write the server URL to this file (atomically) when ready")
    p.add_argument("--kubeconfig", help="write a kubeconfig for the server to this file")
    p.add_argument("--context", default="fake", help="context (and cluster and user) name in the kubeconfig (default fake)")
    p.add_argument("--default-namespace", default="default", help="namespace of the kubeconfig context (default default)")
    p.add_argument("--namespaces", default="", help="comma-separated namespaces to create at start (default, kube-system, "
                                                    "kube-public and kube-node-lease always exist)")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--log-bodies", action="store_true", help="include request bodies in the log")
    p.add_argument("--server-version", default="v1.32.0", help="gitVersion that /version reports (default v1.32.0)")
    p.add_argument("--pod-ready-seconds", type=float, default=0.2,
                   help="seconds a pod takes from creation to ready (default 0.2); annotation %s overrides it" % ANN_READY)
    p.add_argument("--progress-deadline", type=float, default=None,
                   help="seconds without progress before a Deployment gets ProgressDeadlineExceeded, instead of "
                        "its spec.progressDeadlineSeconds")
    p.add_argument("--bad-image-regex", default=r"(^|[/:@_.-])bad([/:@_.-]|$)",
                   help="images matching this never pull (ImagePullBackOff); default matches nginx:bad, bad/app, app:1-bad")
    p.add_argument("--nodes", type=int, default=1, help="number of fake nodes (DaemonSet pods; default 1)")
    p.add_argument("--tick", type=float, default=0.05, help="controller period in seconds (default 0.05)")
    p.add_argument("--watch-timeout", type=float, default=300, help="longest a watch request lasts (default 300 s)")
    p.add_argument("--max-lifetime", type=float, default=0, help="exit after this many seconds (default 0: never)")
    p.add_argument("--no-aggregated-discovery", action="store_true", help="serve legacy discovery only")
    p.add_argument("--no-openapi-v3", action="store_true", help="answer 404 to /openapi/v3")
    a = p.parse_args(argv)
    if a.host not in ("127.0.0.1", "localhost", "::1") and not a.host.startswith("127."):
        p.error("--host must be a loopback address")
    re.compile(a.bad_image_regex)
    return a
