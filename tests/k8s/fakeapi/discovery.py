"""Discovery documents: /version, the legacy /api and /apis documents and
the aggregated ones (apidiscovery.k8s.io v2 and v2beta1).
"""

import re

from .common import safe_hash
from .options import ARGS
from .resources import GROUPS, VERBS


def api_resource(rt, sub=None):
    if sub is None:
        r = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
             "verbs": list(VERBS), "storageVersionHash": safe_hash(rt.gr, 11)}
        if rt.short:
            r["shortNames"] = rt.short
        if rt.categories:
            r["categories"] = rt.categories
        return r
    r = {"name": "%s/%s" % (rt.plural, sub), "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind,
         "verbs": ["get", "patch", "update"]}
    if sub == "scale":
        r.update({"group": "autoscaling", "version": "v1", "kind": "Scale"})
    elif sub == "log":
        r.update({"kind": "Pod", "verbs": ["get"]})
    elif sub == "finalize":
        r["verbs"] = ["update"]
    return r


def resource_list(group):
    rts = GROUPS[group]
    res = []
    for rt in rts:
        res.append(api_resource(rt))
        for sub in rt.subresources:
            res.append(api_resource(rt, sub))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": rts[0].api_version, "resources": res}


def group_doc(group):
    gv = {"groupVersion": "%s/v1" % group, "version": "v1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv}


def aggregated(groups, version):
    items = []
    for g in groups:
        rs = []
        for rt in GROUPS[g]:
            r = {"resource": rt.plural, "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                 "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
                 "verbs": list(VERBS)}
            if rt.short:
                r["shortNames"] = rt.short
            if rt.categories:
                r["categories"] = rt.categories
            subs = []
            for sub in rt.subresources:
                a = api_resource(rt, sub)
                subs.append({"subresource": sub, "responseKind": {"group": a.get("group", rt.group),
                                                                  "version": a.get("version", rt.version),
                                                                  "kind": a["kind"]},
                             "verbs": a["verbs"]})
            if subs:
                r["subresources"] = subs
            rs.append(r)
        items.append({"metadata": {"name": g, "creationTimestamp": None},
                      "versions": [{"version": "v1", "resources": rs, "freshness": "Current"}]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/" + version,
            "metadata": {}, "items": items}


def version_doc():
    m = re.match(r"^v(\d+)\.(\d+)", ARGS.server_version)
    major, minor = (m.group(1), m.group(2)) if m else ("1", "32")
    return {"major": major, "minor": minor, "gitVersion": ARGS.server_version,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0", "compiler": "gc",
            "platform": "linux/amd64"}
