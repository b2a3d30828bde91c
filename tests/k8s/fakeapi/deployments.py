"""The simulated Deployment controller: a ReplicaSet per pod template,
rolling updates with maxSurge and maxUnavailable (or Recreate), revision
annotations, status counts and the Available and Progressing conditions
(ProgressDeadlineExceeded when a rollout stalls).
"""

import copy

from .common import (DESIRED_ANN, HASH_LABEL, LAST_APPLIED, MAX_ANN, REV_ANN, REV_HISTORY_ANN, now_ts,
                     omit_zero, rand_suffix)
from .defaults import int_or_percent
from .options import ARGS
from .pods import make_pod, pod_is_ready, record_event, refresh_pods, template_hash
from .resources import RT_BY_GR
from .store import STORE, owned_by, owner_ref, put_if_changed


def set_condition(conds, ctype, status, reason, message, t, update_time=True):
    """Sets a Deployment-style condition; keeps times unless it changed."""
    ts = now_ts(t)
    for c in conds:
        if c["type"] == ctype:
            if c["status"] != status:
                c["lastTransitionTime"] = ts
                c["lastUpdateTime"] = ts
            elif update_time and (c.get("reason") != reason or c.get("message") != message):
                c["lastUpdateTime"] = ts
            c["status"], c["reason"], c["message"] = status, reason, message
            return
    conds.append({"type": ctype, "status": status, "lastUpdateTime": ts, "lastTransitionTime": ts,
                  "reason": reason, "message": message})


def scale_pods(rs_rt, rs, want, t):
    """Creates or deletes the pods of a ReplicaSet to reach want pods."""
    prt = RT_BY_GR[("", "pods")]
    ns = rs["metadata"]["namespace"]
    pods = sorted(owned_by(prt, ns, rs["metadata"]["uid"]), key=lambda p: p["metadata"]["creationTimestamp"])
    while len(pods) > want:
        victim = next((p for p in reversed(pods) if not pod_is_ready(p, t)), pods[-1])
        STORE.remove(prt, ns, victim["metadata"]["name"])
        pods.remove(victim)
    tmpl = rs["spec"]["template"]
    while len(pods) < want:
        pods.append(make_pod(rs_rt, rs, tmpl, "%s-%s" % (rs["metadata"]["name"], rand_suffix()), {},
                             "fake-node-%d" % (1 + len(pods) % max(1, ARGS.nodes)), t))
    return refresh_pods(pods, t)


def reconcile_deployment(d, t):
    drt = RT_BY_GR[("apps", "deployments")]
    rsrt = RT_BY_GR[("apps", "replicasets")]
    md = d["metadata"]
    ns, name, uid = md["namespace"], md["name"], md["uid"]
    spec = d["spec"]
    n = int(spec.get("replicas", 1))
    tmpl = spec.get("template") or {}
    h = template_hash(tmpl)
    side = STORE.side.setdefault(uid, {})
    rss = owned_by(rsrt, ns, uid)

    def rev(rs):
        try:
            return int((rs["metadata"].get("annotations") or {}).get(REV_ANN, "0"))
        except ValueError:
            return 0

    max_rev = max([rev(rs) for rs in rss] or [0])
    new_rs = next((rs for rs in rss if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == h), None)
    paused = bool(spec.get("paused"))
    strategy = spec.get("strategy") or {}
    ru = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(ru.get("maxSurge", "25%"), n, True)
    unavail = int_or_percent(ru.get("maxUnavailable", "25%"), n, False)
    if surge == 0 and unavail == 0:
        unavail = 1
    copied = {k: v for k, v in (md.get("annotations") or {}).items()
              if k not in (LAST_APPLIED, REV_ANN, REV_HISTORY_ANN, DESIRED_ANN, MAX_ANN)}
    if not paused:
        if new_rs is None:
            labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
            labels[HASH_LABEL] = h
            rtmpl = copy.deepcopy(tmpl)
            rtmpl.setdefault("metadata", {})["labels"] = labels
            sel = copy.deepcopy(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})[HASH_LABEL] = h
            ann = dict(copied)
            ann.update({REV_ANN: str(max_rev + 1), DESIRED_ANN: str(n), MAX_ANN: str(n + surge)})
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": "%s-%s" % (name, h), "namespace": ns, "labels": labels,
                               "annotations": ann, "ownerReferences": [owner_ref(drt, d)], "generation": 1},
                  "spec": {"replicas": 0, "selector": sel, "template": rtmpl},
                  "status": {"replicas": 0}}
            STORE.new_metadata(rs, ns)
            new_rs = STORE.put(rsrt, rs, "ADDED")
            rss.append(new_rs)
            side.update(progress_at=t, progress=("True", "NewReplicaSetCreated",
                                                 'Created new replica set "%s"' % new_rs["metadata"]["name"]))
        else:
            ann = dict(new_rs["metadata"].get("annotations") or {})
            want = dict(ann)
            want.update(copied)
            if rev(new_rs) < max_rev:
                hist = [x for x in want.get(REV_HISTORY_ANN, "").split(",") if x]
                hist.append(str(rev(new_rs)))
                want[REV_HISTORY_ANN] = ",".join(hist)
                want[REV_ANN] = str(max_rev + 1)
                side.update(progress_at=t, progress=("True", "ReplicaSetUpdated",
                                                     'ReplicaSet "%s" is progressing.' % new_rs["metadata"]["name"]))
            want[DESIRED_ANN] = str(n)
            want[MAX_ANN] = str(n + surge)
            if want != ann:
                rs2 = copy.deepcopy(new_rs)
                rs2["metadata"]["annotations"] = want
                new_rs = STORE.put(rsrt, rs2, "MODIFIED")
                rss = [new_rs if r["metadata"]["uid"] == new_rs["metadata"]["uid"] else r for r in rss]
    old_rss = sorted([rs for rs in rss if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]],
                     key=rev, reverse=True)
    prt = RT_BY_GR[("", "pods")]

    def ready_of(rs):
        return sum(1 for p in owned_by(prt, ns, rs["metadata"]["uid"]) if pod_is_ready(p, t))

    if new_rs is not None:
        new_ready = ready_of(new_rs)
        prev_ready = side.get("new_ready", 0)
        if side.get("new_uid") != new_rs["metadata"]["uid"]:
            side["new_uid"] = new_rs["metadata"]["uid"]
            prev_ready = new_ready
        if new_ready > prev_ready:
            side["progress_at"] = t
            side["progress"] = ("True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % new_rs["metadata"]["name"])
        side["new_ready"] = new_ready
        if strategy.get("type") == "Recreate":
            old_target = 0
            old_left = sum(len(owned_by(prt, ns, rs["metadata"]["uid"])) for rs in old_rss)
            new_target = n if old_left == 0 else 0
        else:
            old_budget = max(0, n - unavail - new_ready)
            old_target = min(old_budget, sum(ready_of(rs) for rs in old_rss))
            new_target = max(min(n, n + surge - old_target), min(new_ready, n))
        plan = {new_rs["metadata"]["uid"]: new_target}
        left = old_target
        for rs in old_rss:
            take = min(left, ready_of(rs), int(rs["spec"].get("replicas", 0)))
            plan[rs["metadata"]["uid"]] = take
            left -= take
    else:
        plan = {rs["metadata"]["uid"]: int(rs["spec"].get("replicas", 0)) for rs in rss}
    total = updated = ready = 0
    for rs in rss:
        want = plan.get(rs["metadata"]["uid"], 0)
        cur = STORE.get(rsrt, ns, rs["metadata"]["name"])
        if cur is None:
            continue
        if int(cur["spec"].get("replicas", 0)) != want:
            record_event(drt, d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s to %d" % (
                "up" if want > int(cur["spec"].get("replicas", 0)) else "down", cur["metadata"]["name"], want),
                "deployment-controller")
            cur2 = copy.deepcopy(cur)
            cur2["spec"]["replicas"] = want
            cur2["metadata"]["generation"] = int(cur["metadata"].get("generation", 1)) + 1
            cur = STORE.put(rsrt, cur2, "MODIFIED")
        pods = scale_pods(rsrt, cur, want, t)
        r = sum(1 for p in pods if pod_is_ready(p, t))
        st = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": r,
              "availableReplicas": r, "observedGeneration": cur["metadata"].get("generation", 1)}
        st = omit_zero(st)
        st.setdefault("replicas", 0)
        cur2 = copy.deepcopy(cur)
        cur2["status"] = st
        put_if_changed(rsrt, cur, cur2)
        total += len(pods)
        ready += r
        if new_rs is not None and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]:
            updated = len(pods)
    # Old ReplicaSets beyond revisionHistoryLimit go, oldest first.
    limit = int(spec.get("revisionHistoryLimit", 10))
    idle = sorted([rs for rs in old_rss if plan.get(rs["metadata"]["uid"], 0) == 0], key=rev)
    for rs in idle[:max(0, len(idle) - limit)]:
        STORE.remove(rsrt, ns, rs["metadata"]["name"])
    cur = STORE.get(drt, ns, name)
    if cur is None:
        return
    st = copy.deepcopy(cur.get("status") or {})
    conds = st.get("conditions") or []
    st.update({"observedGeneration": cur["metadata"].get("generation", 1), "replicas": total,
               "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
               "unavailableReplicas": max(0, max(total, n) - ready)})
    if ready >= n - unavail:
        set_condition(conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", t)
    else:
        set_condition(conds, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", t)
    complete = new_rs is not None and updated == n and total == n and ready == n
    deadline = ARGS.progress_deadline if ARGS.progress_deadline is not None else float(spec.get("progressDeadlineSeconds", 600))
    if paused:
        set_condition(conds, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", t)
    elif complete:
        set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                      'ReplicaSet "%s" has successfully progressed.' % new_rs["metadata"]["name"], t)
    elif new_rs is not None:
        prog = next((c for c in conds if c["type"] == "Progressing"), None)
        timed_out = prog is not None and prog.get("reason") == "ProgressDeadlineExceeded" and \
            side.get("progress_at", t) <= side.get("timed_out_at", 0)
        if timed_out or t - side.get("progress_at", t) > deadline:
            if not timed_out:
                side["timed_out_at"] = t
            set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                          'ReplicaSet "%s" has timed out progressing.' % new_rs["metadata"]["name"], t)
        else:
            p = side.get("progress") or ("True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % new_rs["metadata"]["name"])
            set_condition(conds, "Progressing", p[0], p[1], p[2], t)
    st["conditions"] = conds
    st = omit_zero(st)
    new_d = copy.deepcopy(cur)
    new_d["status"] = st
    if new_rs is not None:
        r = (STORE.get(rsrt, ns, new_rs["metadata"]["name"]) or new_rs)
        new_d["metadata"].setdefault("annotations", {})[REV_ANN] = r["metadata"]["annotations"][REV_ANN]
    put_if_changed(drt, cur, new_d)
