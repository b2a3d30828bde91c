"""The store: every object, the resource version counter and the event
history that watches read; with the owner-reference lookups and the
write-when-changed helper that the controllers use.
"""

import collections
import copy
import threading
import uuid

from .common import canon, now_ts


Event = collections.namedtuple("Event", "rv group plural ns name type obj")


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.objs = {}  # (group, plural) -> {(ns, name): obj}
        self.rv = 1
        self.history = collections.deque(maxlen=20000)
        self.ssa = {}  # (uid, manager) -> last applied config
        self.side = {}  # uid -> controller state that is not in the object

    def next_rv(self):
        self.rv += 1
        return self.rv

    def table(self, rt):
        return self.objs.setdefault((rt.group, rt.plural), {})

    def get(self, rt, ns, name):
        with self.lock:
            o = self.table(rt).get((ns or "", name))
            return copy.deepcopy(o) if o is not None else None

    def list(self, rt, ns=None):
        with self.lock:
            return [copy.deepcopy(o) for (ons, _), o in sorted(self.table(rt).items())
                    if ns is None or ons == ns]

    def put(self, rt, obj, etype):
        """Stores obj (a new resourceVersion) and tells the watches."""
        with self.lock:
            md = obj["metadata"]
            md["resourceVersion"] = str(self.next_rv())
            self.table(rt)[(md.get("namespace", ""), md["name"])] = copy.deepcopy(obj)
            self.history.append(Event(self.rv, rt.group, rt.plural, md.get("namespace", ""), md["name"],
                                      etype, copy.deepcopy(obj)))
            self.cond.notify_all()
            return copy.deepcopy(obj)

    def remove(self, rt, ns, name):
        with self.lock:
            o = self.table(rt).pop((ns or "", name), None)
            if o is None:
                return None
            o["metadata"]["resourceVersion"] = str(self.next_rv())
            self.history.append(Event(self.rv, rt.group, rt.plural, ns or "", name, "DELETED", copy.deepcopy(o)))
            uid = o["metadata"].get("uid")
            self.side.pop(uid, None)
            for k in [k for k in self.ssa if k[0] == uid]:
                del self.ssa[k]
            self.cond.notify_all()
            return o

    def new_metadata(self, obj, ns):
        md = obj.setdefault("metadata", {})
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_ts()
        if ns:
            md["namespace"] = ns
        return md


STORE = Store()


def owned_by(rt, ns, uid):
    """Objects of type rt in ns whose controller is the object with uid."""
    out = []
    for o in STORE.table(rt).values():
        if o["metadata"].get("namespace", "") != ns:
            continue
        for ref in o["metadata"].get("ownerReferences") or []:
            if ref.get("uid") == uid and ref.get("controller"):
                out.append(o)
                break
    return out


def owner_ref(rt, obj):
    return {"apiVersion": rt.api_version, "kind": rt.kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def put_if_changed(rt, old, new):
    if canon(old) != canon(new):
        return STORE.put(rt, new, "MODIFIED")
    return old
