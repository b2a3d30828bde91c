"""ControllerRevisions of StatefulSets and DaemonSets: one per pod
template, with the `$patch: replace` data that `rollout undo` applies.
"""

import copy

from .common import CR_HASH_LABEL
from .pods import template_hash
from .resources import RT_BY_GR
from .store import STORE, owned_by, owner_ref


def revision_patch(tmpl):
    t = copy.deepcopy(tmpl)
    t["$patch"] = "replace"
    return {"spec": {"template": t}}


def sync_revisions(owner_rt, owner, t):
    """ControllerRevisions of a StatefulSet or DaemonSet: one per template,
    the current template's at the highest revision. Returns its name."""
    crt = RT_BY_GR[("apps", "controllerrevisions")]
    md = owner["metadata"]
    ns, uid = md["namespace"], md["uid"]
    tmpl = owner["spec"].get("template") or {}
    h = template_hash(tmpl)
    name = "%s-%s" % (md["name"], h)
    crs = owned_by(crt, ns, uid)
    max_rev = max([int(c.get("revision", 0)) for c in crs] or [0])
    cr = next((c for c in crs if c["metadata"]["name"] == name), None)
    if cr is None:
        labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
        labels[CR_HASH_LABEL] = h
        cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
              "metadata": {"name": name, "namespace": ns, "labels": labels,
                           "ownerReferences": [owner_ref(owner_rt, owner)]},
              "data": revision_patch(tmpl), "revision": max_rev + 1}
        STORE.new_metadata(cr, ns)
        STORE.put(crt, cr, "ADDED")
        crs.append(cr)
    elif int(cr.get("revision", 0)) < max_rev:
        cr2 = copy.deepcopy(cr)
        cr2["revision"] = max_rev + 1
        STORE.put(crt, cr2, "MODIFIED")
    limit = int(owner["spec"].get("revisionHistoryLimit", 10))
    keep = {name, (owner.get("status") or {}).get("currentRevision"), (owner.get("status") or {}).get("updateRevision")}
    old = sorted([c for c in crs if c["metadata"]["name"] not in keep], key=lambda c: int(c.get("revision", 0)))
    for c in old[:max(0, len(old) - limit)]:
        STORE.remove(crt, ns, c["metadata"]["name"])
    return name, h
