"""Simulated pods, as the kubelet would run them: the pod-template hash,
whether a template's pods fail (bad image, fail annotation) or how long
they take to get Ready, pod status, creating a workload's pods, the
Events recorded about them, and pods that no workload controls.
"""

import copy
import hashlib
import random
import re

from .common import ANN_FAIL, ANN_READY, CR_HASH_LABEL, HASH_LABEL, canon, now_ts, parse_ts, safe_hash
from .options import ARGS
from .resources import RT_BY_GR
from .store import STORE, owner_ref, put_if_changed


def template_hash(tmpl):
    t = copy.deepcopy(tmpl or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        labels.pop(CR_HASH_LABEL, None)
    return safe_hash(canon(t))


def template_failure(tmpl):
    """(reason, message, container) when pods of this template never become
    ready, else None."""
    spec = (tmpl or {}).get("spec") or {}
    containers = spec.get("containers") or []
    ann = ((tmpl or {}).get("metadata") or {}).get("annotations") or {}
    if ann.get(ANN_FAIL):
        c = containers[0] if containers else {}
        reason = ann[ANN_FAIL]
        if reason in ("ImagePullBackOff", "ErrImagePull"):
            msg = 'Back-off pulling image "%s"' % c.get("image", "")
        elif reason == "CrashLoopBackOff":
            msg = "back-off 10s restarting failed container=%s" % c.get("name", "")
        else:
            msg = "container %s is not ready: %s" % (c.get("name", ""), reason)
        return reason, msg, c.get("name", "")
    rx = re.compile(ARGS.bad_image_regex)
    for c in (spec.get("initContainers") or []) + containers:
        if isinstance(c, dict) and rx.search(c.get("image", "")):
            return "ImagePullBackOff", 'Back-off pulling image "%s"' % c.get("image", ""), c.get("name", "")
    return None


def ready_seconds(owner, tmpl):
    for ann in (((tmpl or {}).get("metadata") or {}).get("annotations") or {},
                (owner.get("metadata") or {}).get("annotations") or {}):
        if ann.get(ANN_READY):
            try:
                return float(ann[ANN_READY])
            except ValueError:
                pass
    return ARGS.pod_ready_seconds


def pod_side(pod):
    return STORE.side.setdefault(pod["metadata"]["uid"], {})


def pod_is_ready(pod, t):
    s = STORE.side.get(pod["metadata"]["uid"]) or {}
    return not s.get("fail") and t >= s.get("ready_at", 0)


def pod_status(pod, t):
    s = STORE.side.get(pod["metadata"]["uid"]) or {}
    created = pod["metadata"]["creationTimestamp"]
    containers = pod["spec"].get("containers") or []
    node = pod["spec"].get("nodeName", "fake-node-1")
    idx = node.rsplit("-", 1)[-1]
    st = {"hostIP": "10.0.0.%d" % (1 + (int(idx) if idx.isdigit() else 0)),
          "podIP": s.get("ip", "10.244.0.1"), "startTime": created, "qosClass": "BestEffort"}
    st["podIPs"] = [{"ip": st["podIP"]}]
    fail = s.get("fail")
    ready = pod_is_ready(pod, t)

    def cond(ctype, ok, reason=None, msg=None):
        c = {"type": ctype, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": created}
        if not ok and reason:
            c["reason"] = reason
            c["message"] = msg
        return c

    statuses = []
    unready = []
    for c in containers:
        cs = {"name": c.get("name"), "image": c.get("image"), "imageID": "", "restartCount": 0}
        if ready:
            cs.update({"ready": True, "started": True, "state": {"running": {"startedAt": created}},
                       "imageID": "docker.io/library/%s@sha256:%s" % (c.get("image", "").split(":")[0].rsplit("/", 1)[-1],
                                                                      hashlib.sha256(c.get("image", "").encode()).hexdigest()),
                       "containerID": "containerd://" + hashlib.sha256((pod["metadata"]["uid"] + c.get("name", "")).encode()).hexdigest()})
        elif fail and (fail[2] == c.get("name") or not fail[2]):
            cs.update({"ready": False, "started": False, "state": {"waiting": {"reason": fail[0], "message": fail[1]}}})
            if fail[0] == "CrashLoopBackOff":
                cs["restartCount"] = 1
                cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": created, "finishedAt": created}}
            unready.append(c.get("name"))
        elif fail:
            cs.update({"ready": False, "started": True, "state": {"running": {"startedAt": created}}})
            unready.append(c.get("name"))
        else:
            cs.update({"ready": False, "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}})
            unready.append(c.get("name"))
        statuses.append(cs)
    msg = "containers with unready status: [%s]" % " ".join(unready)
    st["phase"] = "Running" if ready or (fail and fail[0] == "CrashLoopBackOff") else "Pending"
    st["conditions"] = [cond("Initialized", True), cond("Ready", ready, "ContainersNotReady", msg),
                        cond("ContainersReady", ready, "ContainersNotReady", msg), cond("PodScheduled", True)]
    st["containerStatuses"] = statuses
    return st


def make_pod(owner_rt, owner, tmpl, name, extra_labels, node, t):
    ns = owner["metadata"]["namespace"]
    tm = copy.deepcopy(tmpl or {})
    md = tm.get("metadata") or {}
    labels = dict(md.get("labels") or {})
    labels.update(extra_labels)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "labels": labels,
                        "ownerReferences": [owner_ref(owner_rt, owner)]},
           "spec": copy.deepcopy(tm.get("spec") or {})}
    if md.get("annotations"):
        pod["metadata"]["annotations"] = dict(md["annotations"])
    pod["spec"]["nodeName"] = node
    STORE.new_metadata(pod, ns)
    side = pod_side(pod)
    side["fail"] = template_failure(tmpl)
    side["ready_at"] = t + ready_seconds(owner, tmpl)
    side["ip"] = "10.244.%d.%d" % (random.randint(0, 254), random.randint(2, 254))
    pod["status"] = pod_status(pod, t)
    STORE.put(RT_BY_GR[("", "pods")], pod, "ADDED")
    if side["fail"]:
        reason = "BackOff" if side["fail"][0].endswith("BackOff") else "Failed"
        record_event(RT_BY_GR[("", "pods")], pod, "Warning", reason, side["fail"][1], "kubelet", node,
                     "spec.containers{%s}" % side["fail"][2])
    return pod


def record_event(rt, obj, etype, reason, message, component, host=None, field_path=None):
    """A core/v1 Event about obj, as kubectl describe and get events show."""
    md = obj["metadata"]
    ts = now_ts()
    ref = {"kind": rt.kind, "namespace": md.get("namespace", ""), "name": md["name"], "uid": md["uid"],
           "apiVersion": rt.api_version}
    if field_path:
        ref["fieldPath"] = field_path
    source = {"component": component}
    if host:
        source["host"] = host
    ev = {"apiVersion": "v1", "kind": "Event",
          "metadata": {"name": "%s.%x" % (md["name"], random.getrandbits(64)), "namespace": md.get("namespace", "default")},
          "involvedObject": ref, "reason": reason, "message": message, "type": etype, "count": 1,
          "firstTimestamp": ts, "lastTimestamp": ts, "source": source, "reportingComponent": component,
          "reportingInstance": host or ""}
    STORE.new_metadata(ev, ev["metadata"]["namespace"])
    STORE.put(RT_BY_GR[("", "events")], ev, "ADDED")


def refresh_pods(pods, t):
    prt = RT_BY_GR[("", "pods")]
    out = []
    for p in pods:
        n = copy.deepcopy(p)
        n["status"] = pod_status(p, t)
        out.append(put_if_changed(prt, p, n))
    return out


def reconcile_bare_pods(t):
    """Pods that no workload controls (kubectl run): they run too."""
    prt = RT_BY_GR[("", "pods")]
    for p in list(STORE.table(prt).values()):
        if p["metadata"].get("ownerReferences"):
            continue
        uid = p["metadata"]["uid"]
        if uid not in STORE.side:
            side = STORE.side.setdefault(uid, {})
            side["fail"] = template_failure({"metadata": p["metadata"], "spec": p.get("spec") or {}})
            side["ready_at"] = parse_ts(p["metadata"]["creationTimestamp"]) + ready_seconds(p, None)
            side["ip"] = "10.244.%d.%d" % (random.randint(0, 254), random.randint(2, 254))
            p = copy.deepcopy(p)
            p["spec"].setdefault("nodeName", "fake-node-1")
            STORE.put(prt, p, "MODIFIED")
        refresh_pods([copy.deepcopy(STORE.table(prt)[(p["metadata"]["namespace"], p["metadata"]["name"])])], t)
