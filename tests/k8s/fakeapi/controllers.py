"""The simulated controllers: every --tick, one pass over the Deployments,
StatefulSets, DaemonSets and bare pods, then garbage collection.
"""

import sys
import time

from .daemonsets import reconcile_daemonset
from .deployments import reconcile_deployment
from .options import ARGS
from .pods import reconcile_bare_pods
from .resources import RT_BY_GR
from .statefulsets import reconcile_statefulset
from .store import STORE
from .writes import collect_garbage


def reconcile_all():
    t = time.time()
    with STORE.lock:
        for rt, fn in ((RT_BY_GR[("apps", "deployments")], reconcile_deployment),
                       (RT_BY_GR[("apps", "statefulsets")], reconcile_statefulset),
                       (RT_BY_GR[("apps", "daemonsets")], reconcile_daemonset)):
            for obj in STORE.list(rt):
                try:
                    fn(obj, t)
                except Exception as e:  # a bad object must not stop the controller
                    sys.stderr.write("fake-apiserver: controller: %s/%s: %r\n" % (rt.plural, obj["metadata"].get("name"), e))
        reconcile_bare_pods(t)
        collect_garbage()


def controller_loop(stop):
    while not stop.wait(ARGS.tick):
        reconcile_all()
