"""The simulated StatefulSet controller: pods NAME-0..N-1 created in order,
rolling updates from the highest ordinal down to the partition, and the
status counts and revisions.
"""

import copy

from .common import CR_HASH_LABEL, omit_zero
from .options import ARGS
from .pods import make_pod, pod_is_ready, refresh_pods
from .resources import RT_BY_GR
from .revisions import sync_revisions
from .store import STORE, owned_by, put_if_changed


def reconcile_statefulset(s, t):
    srt = RT_BY_GR[("apps", "statefulsets")]
    prt = RT_BY_GR[("", "pods")]
    md = s["metadata"]
    ns, name, uid = md["namespace"], md["name"], md["uid"]
    spec = s["spec"]
    n = int(spec.get("replicas", 1))
    upd_name, h = sync_revisions(srt, s, t)
    status = copy.deepcopy(s.get("status") or {})
    cur_name = status.get("currentRevision") or upd_name
    pods = {}
    for p in owned_by(prt, ns, uid):
        try:
            pods[int(p["metadata"]["name"].rsplit("-", 1)[1])] = p
        except (IndexError, ValueError):
            STORE.remove(prt, ns, p["metadata"]["name"])
    for i in sorted(k for k in pods if k >= n):
        STORE.remove(prt, ns, pods.pop(i)["metadata"]["name"])
    ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    for i in range(n):
        if i not in pods:
            if ordered and any(not pod_is_ready(pods[j], t) for j in pods if j < i):
                break
            pods[i] = make_pod(srt, s, spec.get("template"), "%s-%d" % (name, i),
                               {CR_HASH_LABEL: upd_name, "statefulset.kubernetes.io/pod-name": "%s-%d" % (name, i),
                                "apps.kubernetes.io/pod-index": str(i)},
                               "fake-node-%d" % (1 + i % max(1, ARGS.nodes)), t)
            if ordered and not pod_is_ready(pods[i], t):
                break
    us = spec.get("updateStrategy") or {}
    partition = int((us.get("rollingUpdate") or {}).get("partition", 0) or 0)
    if us.get("type", "RollingUpdate") == "RollingUpdate" and len(pods) == n and \
            all(pod_is_ready(p, t) for p in pods.values()):
        stale = [i for i in sorted(pods, reverse=True)
                 if i >= partition and pods[i]["metadata"]["labels"].get(CR_HASH_LABEL) != upd_name]
        if stale:
            STORE.remove(prt, ns, pods.pop(stale[0])["metadata"]["name"])
    plist = refresh_pods(list(pods.values()), t)
    ready = sum(1 for p in plist if pod_is_ready(p, t))
    updated = sum(1 for p in plist if p["metadata"]["labels"].get(CR_HASH_LABEL) == upd_name)
    current = sum(1 for p in plist if p["metadata"]["labels"].get(CR_HASH_LABEL) == cur_name)
    if updated == len(plist) == n and ready == n:
        cur_name, current = upd_name, updated
    cur = STORE.get(srt, ns, name)
    if cur is None:
        return
    st = {"observedGeneration": cur["metadata"].get("generation", 1), "replicas": len(plist),
          "readyReplicas": ready, "availableReplicas": ready, "currentReplicas": current,
          "updatedReplicas": updated, "currentRevision": cur_name, "updateRevision": upd_name}
    st = omit_zero(st)
    st["replicas"] = len(plist)
    st["collisionCount"] = 0
    new = copy.deepcopy(cur)
    new["status"] = st
    put_if_changed(srt, cur, new)
