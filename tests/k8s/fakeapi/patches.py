"""Patches: strategic merge patch, JSON merge patch (RFC 7386), JSON patch
(RFC 6902), and the removal of fields that a manager no longer applies,
for server-side apply.
"""

import copy

from .errors import ApiError, bad_request


# Lists merged by key in strategic merge patches (patchMergeKey of the
# Kubernetes types), by field name. `ports` is decided per list: container
# ports merge on containerPort, service ports on port.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "ownerReferences": "uid",
    "conditions": "type", "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
    "ports": None,
}
MERGE_PRIMITIVES = {"finalizers"}


def strip_directives(v):
    if isinstance(v, dict):
        return {k: strip_directives(x) for k, x in v.items()
                if not k.startswith("$") and x is not None}
    if isinstance(v, list):
        return [strip_directives(x) for x in v if not (isinstance(x, dict) and x.get("$patch") == "delete")]
    return v


def merge_key_for(field, items):
    if field not in MERGE_KEYS:
        return None
    mk = MERGE_KEYS[field]
    if mk is None:
        mk = "containerPort" if any(isinstance(x, dict) and "containerPort" in x for x in items) else "port"
    return mk


def smp_list(orig, patch, field, order):
    orig = orig if isinstance(orig, list) else []
    if field in MERGE_PRIMITIVES:
        out = list(orig)
        for v in patch:
            if v not in out:
                out.append(v)
        if order is not None:
            out = [v for v in order if v in out] + [v for v in out if v not in order]
        return out
    mk = merge_key_for(field, list(orig) + list(patch))
    if mk is None or not all(isinstance(x, dict) for x in patch):
        return strip_directives(patch)
    if any(x.get("$patch") == "replace" for x in patch):
        return [strip_directives(x) for x in patch if x.get("$patch") != "replace"]
    out = copy.deepcopy(orig)
    for item in patch:
        key = item.get(mk)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(mk) == key), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(strip_directives(item))
        else:
            out[idx] = smp_map(out[idx], item)
    if order is not None:
        keys = [o.get(mk) for o in order if isinstance(o, dict)]
        first = [next(o for o in out if o.get(mk) == k) for k in keys if any(o.get(mk) == k for o in out)]
        out = first + [o for o in out if o.get(mk) not in keys]
    return out


def smp_map(orig, patch):
    """Applies a strategic merge patch (a map) to orig; returns the result."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return strip_directives(patch)
    if directive == "delete":
        return None
    out = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    if isinstance(patch.get("$retainKeys"), list):
        keep = set(patch["$retainKeys"])
        out = {k: v for k, v in out.items() if k in keep}
    orders = {k[len("$setElementOrder/"):]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            r = smp_map(out.get(k), v)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list):
            out[k] = smp_list(out.get(k), v, k, orders.get(k))
        else:
            out[k] = v
    for k, v in patch.items():
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k[len("$deleteFromPrimitiveList/"):]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in v]
    for f, order in orders.items():
        if f not in patch and isinstance(out.get(f), list):
            out[f] = smp_list(out[f], [], f, order)
    return out


def merge_patch(orig, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request("invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc, parts):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            if p not in cur:
                raise bad_request("jsonpatch: missing path element %r" % p)
            cur = cur[p]
        else:
            raise bad_request("jsonpatch: cannot descend into %r" % p)
    return cur


def json_patch(doc, ops):
    """RFC 6902 JSON patch."""
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    for op in ops:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))

        def get(parts_):
            c = _container(doc, parts_)
            last = parts_[-1]
            return c[int(last)] if isinstance(c, list) else c[last]

        def remove(parts_):
            c = _container(doc, parts_)
            last = parts_[-1]
            if isinstance(c, list):
                return c.pop(int(last))
            if last not in c:
                raise ApiError(422, "Invalid", "jsonpatch remove operation does not apply: doc is missing key: %s" % op.get("path"))
            return c.pop(last)

        def add(parts_, value):
            nonlocal doc
            if not parts_:
                doc = copy.deepcopy(value)
                return
            c = _container(doc, parts_)
            last = parts_[-1]
            if isinstance(c, list):
                if last == "-":
                    c.append(copy.deepcopy(value))
                else:
                    c.insert(int(last), copy.deepcopy(value))
            else:
                c[last] = copy.deepcopy(value)

        try:
            if kind == "add":
                add(parts, op.get("value"))
            elif kind == "remove":
                remove(parts)
            elif kind == "replace":
                if not parts:
                    doc = copy.deepcopy(op.get("value"))
                else:
                    c = _container(doc, parts)
                    last = parts[-1]
                    if isinstance(c, list):
                        c[int(last)] = copy.deepcopy(op.get("value"))
                    else:
                        if last not in c:
                            raise ApiError(422, "Invalid", "jsonpatch replace operation does not apply: doc is missing key: %s" % op.get("path"))
                        c[last] = copy.deepcopy(op.get("value"))
            elif kind == "move":
                v = remove(_pointer(op.get("from", "")))
                add(parts, v)
            elif kind == "copy":
                add(parts, get(_pointer(op.get("from", ""))))
            elif kind == "test":
                if get(parts) != op.get("value"):
                    raise ApiError(422, "Invalid", "testing value %s failed" % op.get("path"))
            else:
                raise bad_request("unknown json patch op %r" % kind)
        except (IndexError, KeyError, ValueError, TypeError) as e:
            raise ApiError(422, "Invalid", "jsonpatch %s operation does not apply: %s" % (kind, e))
    return doc


def drop_unapplied(live, prev, new):
    """For server-side apply: removes from live what the manager applied
    before (prev) and no longer applies (new)."""
    if not isinstance(live, dict) or not isinstance(prev, dict):
        return
    new = new if isinstance(new, dict) else {}
    for k, pv in prev.items():
        if k not in new:
            live.pop(k, None)
            continue
        nv = new[k]
        if isinstance(pv, dict) and isinstance(live.get(k), dict):
            drop_unapplied(live[k], pv, nv)
        elif isinstance(pv, list) and isinstance(nv, list) and isinstance(live.get(k), list):
            mk = merge_key_for(k, pv + nv)
            if mk and all(isinstance(x, dict) for x in pv + nv):
                keep = {x.get(mk) for x in nv}
                gone = {x.get(mk) for x in pv} - keep
                live[k] = [x for x in live[k] if not (isinstance(x, dict) and x.get(mk) in gone)]
                for x in live[k]:
                    p = next((y for y in pv if y.get(mk) == x.get(mk)), None)
                    n = next((y for y in nv if y.get(mk) == x.get(mk)), None)
                    if p is not None and n is not None:
                        drop_unapplied(x, p, n)
            elif k in MERGE_PRIMITIVES:
                live[k] = [x for x in live[k] if x in nv or x not in pv]
