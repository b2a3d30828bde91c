"""The simulated DaemonSet controller: one pod on each fake node, rolling
updates with maxUnavailable, and the status counts.
"""

import copy

from .common import CR_HASH_LABEL, rand_suffix
from .defaults import int_or_percent
from .options import ARGS
from .pods import make_pod, pod_is_ready, refresh_pods
from .resources import RT_BY_GR
from .revisions import sync_revisions
from .store import STORE, owned_by, put_if_changed


def reconcile_daemonset(ds, t):
    drt = RT_BY_GR[("apps", "daemonsets")]
    prt = RT_BY_GR[("", "pods")]
    md = ds["metadata"]
    ns, name, uid = md["namespace"], md["name"], md["uid"]
    spec = ds["spec"]
    upd_name, h = sync_revisions(drt, ds, t)
    nodes = ["fake-node-%d" % (i + 1) for i in range(max(0, ARGS.nodes))]
    by_node = {}
    for p in owned_by(prt, ns, uid):
        nd = p["spec"].get("nodeName")
        if nd in by_node or nd not in nodes:
            STORE.remove(prt, ns, p["metadata"]["name"])
        else:
            by_node[nd] = p
    us = spec.get("updateStrategy") or {}
    if us.get("type", "RollingUpdate") == "RollingUpdate":
        # Like the real controller (daemon/update.go), an old pod that is
        # not available is replaced at once, whatever maxUnavailable says:
        # a rollback of a stalled rollout replaces the stuck pods.
        for nd in nodes:
            p = by_node.get(nd)
            if p is not None and p["metadata"]["labels"].get(CR_HASH_LABEL) != h and not pod_is_ready(p, t):
                STORE.remove(prt, ns, p["metadata"]["name"])
                del by_node[nd]
        max_unavail = max(1, int_or_percent((us.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(nodes), True))
        unavailable = sum(1 for nd in nodes if nd not in by_node or not pod_is_ready(by_node[nd], t))
        for nd in nodes:
            if unavailable >= max_unavail:
                break
            p = by_node.get(nd)
            if p is not None and p["metadata"]["labels"].get(CR_HASH_LABEL) != h and pod_is_ready(p, t):
                STORE.remove(prt, ns, p["metadata"]["name"])
                del by_node[nd]
                unavailable += 1
    for nd in nodes:
        if nd not in by_node:
            by_node[nd] = make_pod(drt, ds, spec.get("template"), "%s-%s" % (name, rand_suffix()),
                                   {CR_HASH_LABEL: h, "pod-template-generation": str(md.get("generation", 1))}, nd, t)
    plist = refresh_pods(list(by_node.values()), t)
    ready = sum(1 for p in plist if pod_is_ready(p, t))
    updated = sum(1 for p in plist if p["metadata"]["labels"].get(CR_HASH_LABEL) == h)
    cur = STORE.get(drt, ns, name)
    if cur is None:
        return
    st = {"currentNumberScheduled": len(plist), "numberMisscheduled": 0, "desiredNumberScheduled": len(nodes),
          "numberReady": ready, "observedGeneration": cur["metadata"].get("generation", 1),
          "updatedNumberScheduled": updated, "numberAvailable": ready, "numberUnavailable": len(nodes) - ready}
    st = {k: v for k, v in st.items() if v or k in ("currentNumberScheduled", "numberMisscheduled",
                                                       "desiredNumberScheduled", "numberReady")}
    new = copy.deepcopy(cur)
    new["status"] = st
    put_if_changed(drt, cur, new)
