"""Start-up: the objects that exist from the start (namespaces, nodes), the
URL and kubeconfig files, the HTTP server, the controller thread and the
signals that stop them; main() is what fake-apiserver.py runs.
"""

import os
import signal
import socket
import sys
import threading
from http.server import ThreadingHTTPServer

from .controllers import controller_loop
from .handler import Handler
from .options import ARGS, parse_args
from .resources import RT_BY_GR
from .store import STORE
from .writes import do_create


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def kubeconfig_text(url, context, namespace):
    return ("apiVersion: v1\nkind: Config\n"
            "clusters:\n- name: %(c)s\n  cluster:\n    server: %(u)s\n"
            "users:\n- name: %(c)s\n  user:\n    token: fake-token\n"
            "contexts:\n- name: %(c)s\n  context:\n    cluster: %(c)s\n    user: %(c)s\n    namespace: %(ns)s\n"
            "current-context: %(c)s\npreferences: {}\n") % {"c": context, "u": url, "ns": namespace}


def seed(namespaces):
    nrt = RT_BY_GR[("", "namespaces")]
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] + namespaces:
        if ns and STORE.get(nrt, "", ns) is None:
            do_create(nrt, "", {"metadata": {"name": ns}})
    node_rt = RT_BY_GR[("", "nodes")]
    for i in range(ARGS.nodes):
        name = "fake-node-%d" % (i + 1)
        do_create(node_rt, "", {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                                      "kubernetes.io/os": "linux"}},
                                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                                           "nodeInfo": {"kubeletVersion": ARGS.server_version}}})


def main(argv):
    # Fills in the one ARGS object that every module imports.
    vars(ARGS).update(vars(parse_args(argv)))
    seed([n.strip() for n in ARGS.namespaces.split(",") if n.strip()])

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 64
        address_family = socket.AF_INET6 if ":" in ARGS.host else socket.AF_INET

        def handle_error(self, request, client_address):
            # A client that goes away mid-request (a kubectl killed with
            # its lockstep, as the resume tests do) is not the server's
            # error; anything else still goes to stderr, which the tests
            # require to stay empty.
            if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                return
            super().handle_error(request, client_address)

    httpd = Server((ARGS.host, ARGS.port), Handler)
    host, port = httpd.server_address[:2]
    url = "http://%s:%d" % ("[%s]" % host if ":" in host else host, port)
    stop = threading.Event()
    threading.Thread(target=controller_loop, args=(stop,), daemon=True).start()

    def shutdown(*_):
        stop.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if ARGS.max_lifetime > 0:
        timer = threading.Timer(ARGS.max_lifetime, shutdown)
        timer.daemon = True
        timer.start()
    if ARGS.kubeconfig:
        write_atomic(ARGS.kubeconfig, kubeconfig_text(url, ARGS.context, ARGS.default_namespace))
    if ARGS.url_file:
        write_atomic(ARGS.url_file, url + "\n")
    print(url, flush=True)
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()
    return 0
