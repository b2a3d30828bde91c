"""Tables (what `kubectl get` prints without -o): kubectl's usual columns
for the common kinds, NAME and AGE for the rest.
"""

import time

from .common import parse_ts, short_age
from .selectors import selector_string
from .store import STORE


def col(name, typ="string", fmt="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": name, "priority": priority}


def table_for(rt, objs, include, t=None):
    t = time.time() if t is None else t
    kind = rt.kind
    if kind == "Deployment":
        cols = [col("Name", fmt="name"), col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"),
                col("Age"), col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)]
    elif kind == "ReplicaSet":
        cols = [col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
                col("Age"), col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)]
    elif kind == "StatefulSet":
        cols = [col("Name", fmt="name"), col("Ready"), col("Age"), col("Containers", priority=1), col("Images", priority=1)]
    elif kind == "DaemonSet":
        cols = [col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
                col("Up-to-date", "integer"), col("Available", "integer"), col("Node Selector"), col("Age")]
    elif kind == "Pod":
        cols = [col("Name", fmt="name"), col("Ready"), col("Status"), col("Restarts", "string"), col("Age"),
                col("IP", priority=1), col("Node", priority=1)]
    elif kind == "Namespace":
        cols = [col("Name", fmt="name"), col("Status"), col("Age")]
    elif kind == "Service":
        cols = [col("Name", fmt="name"), col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), col("Age")]
    elif kind == "ConfigMap":
        cols = [col("Name", fmt="name"), col("Data", "integer"), col("Age")]
    elif kind == "ControllerRevision":
        cols = [col("Name", fmt="name"), col("Controller"), col("Revision", "integer"), col("Age")]
    else:
        cols = [col("Name", fmt="name"), col("Age")]
    rows = []
    for o in objs:
        md = o.get("metadata") or {}
        age = short_age(t - parse_ts(md.get("creationTimestamp")))
        spec, st = o.get("spec") or {}, o.get("status") or {}
        cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        names = ",".join(c.get("name", "") for c in cs)
        images = ",".join(c.get("image", "") for c in cs)
        if kind == "Deployment":
            cells = [md["name"], "%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 1)),
                     st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age, names, images,
                     selector_string(spec.get("selector"))]
        elif kind == "ReplicaSet":
            cells = [md["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0), age,
                     names, images, selector_string(spec.get("selector"))]
        elif kind == "StatefulSet":
            cells = [md["name"], "%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 1)), age, names, images]
        elif kind == "DaemonSet":
            cells = [md["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
                     st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
                     ",".join("%s=%s" % kv for kv in sorted(((spec.get("template") or {}).get("spec") or {})
                                                             .get("nodeSelector", {}).items())) or "<none>", age]
        elif kind == "Pod":
            css = st.get("containerStatuses") or []
            status = st.get("phase", "Pending")
            for c in css:
                w = (c.get("state") or {}).get("waiting")
                if w and w.get("reason"):
                    status = w["reason"]
            cells = [md["name"], "%d/%d" % (sum(1 for c in css if c.get("ready")), len(spec.get("containers") or [])),
                     status, str(sum(c.get("restartCount", 0) for c in css)), age, st.get("podIP", "<none>"),
                     spec.get("nodeName", "<none>")]
        elif kind == "Namespace":
            cells = [md["name"], st.get("phase", "Active"), age]
        elif kind == "Service":
            ports = ",".join("%s/%s" % (p.get("port"), p.get("protocol", "TCP")) for p in spec.get("ports") or [])
            cells = [md["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", "None"), "<none>",
                     ports or "<none>", age]
        elif kind == "ConfigMap":
            cells = [md["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), age]
        elif kind == "ControllerRevision":
            ref = next((r for r in md.get("ownerReferences") or [] if r.get("controller")), None)
            ctl = "%s.%s/%s" % (ref["kind"].lower(), ref["apiVersion"].split("/")[0], ref["name"]) if ref else "<none>"
            cells = [md["name"], ctl, o.get("revision", 0), age]
        else:
            cells = [md.get("name"), age]
        row = {"cells": cells}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(STORE.rv)},
            "columnDefinitions": cols, "rows": rows}
