"""Writes: create, update, patch, delete (shared by the HTTP handlers and
the controllers' own writes), and the garbage collection that follows a
delete.
"""

import copy
import json
import re

from .common import canon, rand_suffix
from .defaults import apply_defaults
from .errors import ApiError, bad_request, invalid, not_found
from .resources import RTYPES, RT_BY_GR, WORKLOADS
from .selectors import label_selector_of, labels_match
from .store import STORE


def validate_object(rt, obj, ns, name=None):
    if not isinstance(obj, dict):
        raise bad_request("the body of the request was in an unknown format")
    md = obj.get("metadata")
    if not isinstance(md, dict):
        raise bad_request("object has no metadata")
    if obj.get("kind") not in (None, rt.kind):
        raise bad_request("the kind %s does not match the resource %s" % (obj.get("kind"), rt.plural))
    if name is not None and md.get("name") not in (None, name):
        raise bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (md.get("name"), name))
    if rt.namespaced and md.get("namespace") not in (None, "", ns):
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    nm = md.get("name") or name
    if nm and not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", nm):
        raise invalid(rt, nm, "metadata.name: Invalid value: \"%s\": a lowercase RFC 1123 subdomain must consist of "
                              "lower case alphanumeric characters, '-' or '.'" % nm)
    key = (rt.group, rt.plural)
    if key in WORKLOADS:
        spec = obj.get("spec") or {}
        sel = label_selector_of(spec.get("selector"))
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not spec.get("selector"):
            raise invalid(rt, nm, "spec.selector: Required value")
        if not labels_match(sel, tlabels):
            raise invalid(rt, nm, "spec.template.metadata.labels: Invalid value: %s: `selector` does not match "
                                  "template `labels`" % json.dumps(tlabels, separators=(",", ":")))
        containers = (((spec.get("template") or {}).get("spec") or {}).get("containers"))
        if not containers:
            raise invalid(rt, nm, "spec.template.spec.containers: Required value")
        for c in containers:
            if not isinstance(c, dict) or not c.get("name") or not c.get("image"):
                raise invalid(rt, nm, "spec.template.spec.containers: every container needs a name and an image")


def require_namespace(rt, ns):
    if rt.namespaced and STORE.get(RT_BY_GR[("", "namespaces")], "", ns) is None:
        raise not_found(RT_BY_GR[("", "namespaces")], ns)


def do_create(rt, ns, obj, dry_run=False):
    with STORE.lock:
        validate_object(rt, obj, ns)
        require_namespace(rt, ns)
        md = obj["metadata"]
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + rand_suffix()
            else:
                raise invalid(rt, "", "metadata.name: Required value: name or generateName is required")
        if STORE.get(rt, ns if rt.namespaced else "", md["name"]) is not None:
            d = {"name": md["name"], "kind": rt.plural}
            if rt.group:
                d["group"] = rt.group
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (rt.gr, md["name"]), d)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "managedFields"):
            md.pop(k, None)
        STORE.new_metadata(obj, ns if rt.namespaced else "")
        if (rt.group, rt.plural) in WORKLOADS:
            md["generation"] = 1
            obj["status"] = {}
        apply_defaults(rt, obj)
        if dry_run:
            obj["metadata"]["resourceVersion"] = ""
            return obj
        return STORE.put(rt, obj, "ADDED")


def do_update(rt, ns, name, new, old, dry_run=False, subresource=""):
    """Replaces old with new, keeping what the API server keeps."""
    with STORE.lock:
        validate_object(rt, new, ns, name)
        md = new.setdefault("metadata", {})
        rv = md.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                                            'please apply your changes to the latest version and try again' % (rt.gr, name),
                           {"name": name, "kind": rt.plural, "group": rt.group} if rt.group else {"name": name, "kind": rt.plural})
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        md["name"] = name
        if rt.namespaced:
            md["namespace"] = ns
        for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
            if k in old["metadata"]:
                md[k] = old["metadata"][k]
            else:
                md.pop(k, None)
        md.pop("managedFields", None)
        has_status = (rt.group, rt.plural) in WORKLOADS or rt.plural in ("pods", "services", "namespaces", "nodes")
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            new["status"] = status
            md = new["metadata"]
        elif has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        apply_defaults(rt, new)
        if (rt.group, rt.plural) in WORKLOADS and canon(new.get("spec")) != canon(old.get("spec")):
            md["generation"] = int(old["metadata"].get("generation", 1)) + 1
        same = canon({k: v for k, v in new.items() if k != "metadata"}) == canon(
            {k: v for k, v in old.items() if k != "metadata"}) and canon(
            {k: v for k, v in md.items() if k != "resourceVersion"}) == canon(
            {k: v for k, v in old["metadata"].items() if k != "resourceVersion"})
        if same or dry_run:
            md["resourceVersion"] = old["metadata"]["resourceVersion"]
            return new
        return STORE.put(rt, new, "MODIFIED")


def do_delete(rt, ns, name, orphan=False):
    with STORE.lock:
        obj = STORE.get(rt, ns, name)
        if obj is None:
            raise not_found(rt, name)
        uid = obj["metadata"].get("uid")
        if rt.plural == "namespaces":
            for t in RTYPES:
                if t.namespaced:
                    for o in list(STORE.table(t).values()):
                        if o["metadata"].get("namespace") == name:
                            STORE.remove(t, name, o["metadata"]["name"])
        elif orphan:
            for t in RTYPES:
                for o in list(STORE.table(t).values()):
                    refs = o["metadata"].get("ownerReferences") or []
                    if any(r.get("uid") == uid for r in refs):
                        o2 = copy.deepcopy(o)
                        o2["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                        if not o2["metadata"]["ownerReferences"]:
                            del o2["metadata"]["ownerReferences"]
                        STORE.put(t, o2, "MODIFIED")
        gone = STORE.remove(rt, ns, name)
        collect_garbage()
        return gone


def collect_garbage():
    """Deletes every object whose controller no longer exists (background
    cascading deletion, done at once)."""
    with STORE.lock:
        while True:
            uids = {o["metadata"].get("uid") for t in STORE.objs.values() for o in t.values()}
            doomed = []
            for (g, p), t in STORE.objs.items():
                for o in t.values():
                    refs = o["metadata"].get("ownerReferences") or []
                    if refs and all(r.get("uid") not in uids for r in refs):
                        doomed.append((RT_BY_GR[(g, p)], o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            if not doomed:
                return
            for rt, ns, name in doomed:
                STORE.remove(rt, ns, name)
