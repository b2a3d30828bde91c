#!/usr/bin/env python3
"""A small fake Kubernetes API server for the test suite.

It serves, over plain HTTP on 127.0.0.1, just what the real `kubectl`
(verified with 1.20 and 1.27 to 1.33) needs for apply, get, rollout
status, rollout history and rollout undo of Deployments, StatefulSets and
DaemonSets, and keeps everything in memory. A simulated controller rolls
workloads out over a short, configurable time, with ReplicaSets,
ControllerRevisions and Pods as the real controllers make them, and can be
made to stall (ImagePullBackOff, then ProgressDeadlineExceeded) so that
tests see what a failed rollout looks like. Every request goes to a JSON
lines log when asked.

Python 3 standard library only. See docs/testing-kubernetes.md for what is
and is not implemented; `fake-apiserver.py --help` for the flags.

One file on purpose, though long: tests start it as one script, with
nothing to install or import. Its sections, in order: resource types,
errors, selectors, patches (strategic merge, JSON merge, JSON patch,
server-side apply), protobuf bodies, defaulting, the store, writes, the
simulated controllers, discovery and OpenAPI, tables, HTTP, start-up.
"""

import argparse
import base64
import collections
import copy
import datetime
import hashlib
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 3 * 1024 * 1024  # the real API server's default request limit
ANN_PREFIX = "fake-apiserver.lockstep.dev/"
ANN_FAIL = ANN_PREFIX + "fail"
ANN_READY = ANN_PREFIX + "pod-ready-seconds"
REV_ANN = "deployment.kubernetes.io/revision"
REV_HISTORY_ANN = "deployment.kubernetes.io/revision-history"
DESIRED_ANN = "deployment.kubernetes.io/desired-replicas"
MAX_ANN = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
HASH_LABEL = "pod-template-hash"
CR_HASH_LABEL = "controller-revision-hash"
SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"

ARGS = None  # the parsed command line, set in main()


def now_ts(t=None):
    """RFC 3339 UTC time with seconds, as the API server writes it."""
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    try:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return time.time()


def short_age(seconds):
    """Age as kubectl prints it: 5s, 3m, 2h, 4d."""
    s = max(0, int(seconds))
    if s < 120:
        return "%ds" % s
    if s < 7200:
        return "%dm" % (s // 60)
    if s < 48 * 3600:
        return "%dh" % (s // 3600)
    return "%dd" % (s // 86400)


def safe_hash(data, n=10):
    digest = hashlib.sha256(data.encode()).digest()
    return "".join(SAFE_CHARS[b % len(SAFE_CHARS)] for b in digest[:n])


def rand_suffix(n=5):
    return "".join(random.choice(SAFE_CHARS) for _ in range(n))


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------
# Resource types

class RType:
    """One resource type: what discovery lists and the store keys by."""

    def __init__(self, group, version, plural, kind, namespaced, short=(), subresources=(), categories=()):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.singular = kind.lower()
        self.namespaced = namespaced
        self.short = list(short)
        self.subresources = list(subresources)
        self.categories = list(categories)

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def gr(self):
        """The group-qualified resource name used in error messages."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural


VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

RTYPES = [
    RType("", "v1", "namespaces", "Namespace", False, ["ns"], ["status", "finalize"]),
    RType("", "v1", "nodes", "Node", False, ["no"], ["status"]),
    RType("", "v1", "pods", "Pod", True, ["po"], ["status", "log"], ["all"]),
    RType("", "v1", "services", "Service", True, ["svc"], ["status"], ["all"]),
    RType("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    RType("", "v1", "secrets", "Secret", True),
    RType("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    RType("", "v1", "events", "Event", True, ["ev"]),
    RType("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    RType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], ["status"]),
    RType("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["status", "scale"], ["all"]),
    RType("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["status", "scale"], ["all"]),
    RType("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ["status", "scale"], ["all"]),
    RType("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ["status"], ["all"]),
    RType("apps", "v1", "controllerrevisions", "ControllerRevision", True),
]
RT_BY_GR = {(rt.group, rt.plural): rt for rt in RTYPES}
RT_BY_KIND = {(rt.group, rt.kind): rt for rt in RTYPES}
GROUPS = collections.OrderedDict()
for _rt in RTYPES:
    GROUPS.setdefault(_rt.group, []).append(_rt)
WORKLOADS = {("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets")}


def rt_of(group, plural):
    return RT_BY_GR.get((group, plural))


# ---------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            st["details"] = self.details
        return st


def not_found(rt, name):
    d = {"name": name, "kind": rt.plural}
    if rt.group:
        d["group"] = rt.group
    return ApiError(404, "NotFound", '%s "%s" not found' % (rt.gr, name), d)


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def invalid(rt, name, msg):
    d = {"name": name, "kind": rt.kind}
    if rt.group:
        d["group"] = rt.group
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (rt.kind, name, msg), d)


# ---------------------------------------------------------------------------
# Selectors

_REQ_RE = re.compile(r"\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(==|!=|=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def split_selector(s):
    """Splits a selector string at commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p for p in (x.strip() for x in parts) if p]


def parse_label_selector(s):
    """A label selector string as a list of (key, op, values)."""
    reqs = []
    for part in split_selector(s or ""):
        m = _REQ_RE.match(part)
        if not m:
            raise bad_request('unable to parse requirement: "%s"' % part)
        neg, key, op, val, setop, setvals = m.groups()
        if op:
            reqs.append((key, "!=" if op == "!=" else "=", [val]))
        elif setop:
            reqs.append((key, setop, [v.strip() for v in setvals.split(",") if v.strip()]))
        else:
            reqs.append((key, "!" if neg else "exists", []))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        have = key in labels
        v = labels.get(key)
        if op == "=" and v != vals[0]:
            return False
        if op == "!=" and v == vals[0]:
            return False
        if op == "in" and v not in vals:
            return False
        if op == "notin" and have and v in vals:
            return False
        if op == "exists" and not have:
            return False
        if op == "!" and have:
            return False
    return True


def label_selector_of(sel):
    """A metav1.LabelSelector (dict) as requirements."""
    reqs = []
    for k, v in sorted(((sel or {}).get("matchLabels") or {}).items()):
        reqs.append((k, "=", [v]))
    for e in (sel or {}).get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(e.get("operator"))
        if op:
            reqs.append((e.get("key"), op, list(e.get("values") or [])))
    return reqs


def selector_string(sel):
    parts = ["%s=%s" % (k, v) for k, v in sorted(((sel or {}).get("matchLabels") or {}).items())]
    for e in (sel or {}).get("matchExpressions") or []:
        op = e.get("operator")
        if op in ("In", "NotIn"):
            parts.append("%s %s (%s)" % (e["key"], op.lower(), ",".join(e.get("values") or [])))
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(parts)


def parse_field_selector(s):
    reqs = []
    for part in split_selector(s or ""):
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise bad_request('invalid field selector: "%s"' % part)
        reqs.append((m.group(1), m.group(2) == "!=", m.group(3)))
    return reqs


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs, obj):
    for path, neg, val in reqs:
        if (field_value(obj, path) == val) == neg:
            return False
    return True


# ---------------------------------------------------------------------------
# Patches

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


# ---------------------------------------------------------------------------
# Kubernetes protobuf bodies. kubectl 1.32 and later send the bodies of
# their typed clients (kubectl create namespace|configmap|deployment ...)
# as protobuf; k8s-proto-schema.json (made by
# gen-proto-schema.py) gives the field numbers to turn them into JSON.

PB_MAGIC = b"k8s\x00"
PB_SCHEMA = None
# Pointer fields whose zero value means something; other zero scalars are
# dropped, as Go's JSON encoding (omitempty) would.
PB_KEEP_ZERO = {"replicas", "partition", "revisionHistoryLimit", "progressDeadlineSeconds",
                "terminationGracePeriodSeconds", "immutable", "automountServiceAccountToken",
                "controller", "blockOwnerDeletion", "paused", "optional", "readOnly"}


def pb_schema():
    global PB_SCHEMA
    if PB_SCHEMA is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "k8s-proto-schema.json")
        try:
            with open(path, encoding="utf-8") as f:
                PB_SCHEMA = json.load(f)
        except OSError as e:
            raise ApiError(415, "UnsupportedMediaType", "fake-apiserver: protobuf body, and no schema: %s" % e)
    return PB_SCHEMA


def pb_fields(b):
    i, out = 0, []
    try:
        while i < len(b):
            k = s = 0
            while True:
                x = b[i]
                i += 1
                k |= (x & 0x7F) << s
                s += 7
                if x < 0x80:
                    break
            num, wt = k >> 3, k & 7
            if wt == 0:
                v = s = 0
                while True:
                    x = b[i]
                    i += 1
                    v |= (x & 0x7F) << s
                    s += 7
                    if x < 0x80:
                        break
            elif wt == 2:
                n = s = 0
                while True:
                    x = b[i]
                    i += 1
                    n |= (x & 0x7F) << s
                    s += 7
                    if x < 0x80:
                        break
                v = b[i:i + n]
                if len(v) != n:
                    raise IndexError
                i += n
            elif wt == 1:
                v, i = b[i:i + 8], i + 8
            elif wt == 5:
                v, i = b[i:i + 4], i + 4
            else:
                raise bad_request("protobuf: unsupported wire type %d" % wt)
            out.append((num, wt, v))
    except IndexError:
        raise bad_request("protobuf: truncated message")
    return out


def pb_int(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def pb_special(msg, raw):
    f = {n: v for n, _, v in pb_fields(raw)}
    if msg in ("meta.Time", "meta.MicroTime"):
        secs, nanos = pb_int(f.get(1, 0)), f.get(2, 0)
        if not secs and not nanos:
            return None
        t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
        if msg == "meta.MicroTime":
            return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (nanos // 1000)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if msg == "intstr.IntOrString":
        return f.get(3, b"").decode() if f.get(1, 0) == 1 else pb_int(f.get(2, 0))
    if msg == "resource.Quantity":
        return f.get(1, b"").decode()
    if msg in ("runtime.RawExtension", "meta.FieldsV1"):
        raw_json = f.get(1, b"")
        return json.loads(raw_json.decode()) if raw_json else None
    if msg == "meta.Duration":
        return "%gs" % (pb_int(f.get(1, 0)) / 1e9)
    return pb_message(msg, raw)


def pb_value(typ, wt, v):
    if typ.startswith("m:"):
        return pb_special(typ[2:], v)
    if typ == "s":
        return v.decode("utf-8")
    if typ == "y":
        return base64.b64encode(v).decode()
    if typ == "b":
        return bool(v)
    if typ == "i":
        return pb_int(v)
    if typ in ("d", "f"):
        return struct.unpack("<d" if typ == "d" else "<f", v)[0]
    raise bad_request("protobuf: unknown type %r" % typ)


def pb_message(msg, raw):
    schema = pb_schema().get(msg)
    if schema is None:
        raise ApiError(415, "UnsupportedMediaType", "fake-apiserver: no protobuf schema for %s; send JSON "
                       "(kubectl apply) instead" % msg)
    by_num = {f[0]: f for f in schema[1:]}
    out = {}
    for num, wt, v in pb_fields(raw):
        f = by_num.get(num)
        if f is None:
            raise ApiError(415, "UnsupportedMediaType", "fake-apiserver: unknown protobuf field %d of %s" % (num, msg))
        _, name, typ = f
        rep = typ.startswith("*")
        typ = typ.lstrip("*")
        if typ.startswith("m:") and pb_schema().get(typ[2:], [""])[0] == "M":
            entry = pb_message(typ[2:], v)
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "")
            continue
        if rep and typ == "i" and wt == 2:  # packed
            vals = []
            i = 0
            while i < len(v):
                n = s = 0
                while True:
                    x = v[i]
                    i += 1
                    n |= (x & 0x7F) << s
                    s += 7
                    if x < 0x80:
                        break
                vals.append(pb_int(n))
            out.setdefault(name, []).extend(vals)
            continue
        val = pb_value(typ, wt, v)
        if rep:
            out.setdefault(name, []).append(val)
        else:
            out[name] = val
    if schema[0] == "M":
        return out
    return {k: v for k, v in out.items()
            if not (v is None or v == "" or v == {} or v == [] or (v in (0, False) and k not in PB_KEEP_ZERO
                                                                   and not isinstance(v, float)))}


def pb_decode_object(body):
    """A Kubernetes protobuf body (magic, runtime.Unknown) as a JSON object."""
    if not body.startswith(PB_MAGIC):
        raise bad_request("protobuf body without the k8s magic prefix")
    env = {n: v for n, _, v in pb_fields(body[len(PB_MAGIC):])}
    tm = {n: v.decode() for n, _, v in pb_fields(env.get(1, b""))}
    api_version, kind = tm.get(1, ""), tm.get(2, "")
    group = api_version.split("/")[0] if "/" in api_version else "core"
    obj = pb_message("%s.%s" % (group, kind), env.get(2, b""))
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj


# ---------------------------------------------------------------------------
# Defaulting, as the API server does it (only what matters to kubectl and
# to the simulated controllers).


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        img = c.get("image", "")
        tag = img.rsplit("/", 1)[-1]
        latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def drop_nulls(v):
    """What decoding into typed structs does: a null field is no field."""
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v


def apply_defaults(rt, obj):
    for k in list(obj):
        if k != "metadata":
            if obj[k] is None:
                del obj[k]
            else:
                obj[k] = drop_nulls(obj[k])
    md = obj.get("metadata")
    if isinstance(md, dict):
        for k in [k for k, v in md.items() if v is None]:
            del md[k]
    spec = obj.get("spec")
    key = (rt.group, rt.plural)
    if key in WORKLOADS and isinstance(spec, dict):
        tmpl = spec.get("template")
        if isinstance(tmpl, dict):
            tmpl.setdefault("metadata", {})
            if isinstance(tmpl.get("spec"), dict):
                default_pod_spec(tmpl["spec"])
        if key != ("apps", "daemonsets"):
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
    if key == ("apps", "deployments") and isinstance(spec, dict):
        spec.setdefault("progressDeadlineSeconds", 600)
        st = spec.setdefault("strategy", {"type": "RollingUpdate"})
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxSurge", "25%")
            ru.setdefault("maxUnavailable", "25%")
    elif key == ("apps", "statefulsets") and isinstance(spec, dict):
        spec.setdefault("podManagementPolicy", "OrderedReady")
        us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        us.setdefault("type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif key == ("apps", "daemonsets") and isinstance(spec, dict):
        us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        us.setdefault("type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            ru = us.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
    elif key == ("", "pods") and isinstance(spec, dict):
        default_pod_spec(spec)
    elif key == ("", "services") and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("clusterIP") in (None, ""):
            spec["clusterIP"] = "10.96.%d.%d" % (random.randint(0, 254), random.randint(1, 254))
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
    elif key == ("", "namespaces"):
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def int_or_percent(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        try:
            pct = int(v[:-1])
        except ValueError:
            return 0
        x = total * pct / 100.0
        return int(-(-x // 1)) if round_up else int(x // 1)
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------------------
# The store: every object, the resource version counter and the event
# history that watches read.

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


# ---------------------------------------------------------------------------
# Writes: create, update, patch, delete (shared by the HTTP handlers and
# the controllers' own writes).


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


# ---------------------------------------------------------------------------
# The simulated controllers


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


def put_if_changed(rt, old, new):
    if canon(old) != canon(new):
        return STORE.put(rt, new, "MODIFIED")
    return old


def refresh_pods(pods, t):
    prt = RT_BY_GR[("", "pods")]
    out = []
    for p in pods:
        n = copy.deepcopy(p)
        n["status"] = pod_status(p, t)
        out.append(put_if_changed(prt, p, n))
    return out


def omit_zero(d):
    return {k: v for k, v in d.items() if v not in (0, None, "", [], {})}


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


def reconcile_all():
    t = time.time()
    with STORE.lock:
        for rt, fn in ((RT_BY_GR[("apps", "deployments")], reconcile_deployment),
                       (RT_BY_GR[("apps", "statefulsets")], reconcile_statefulset),
                       (RT_BY_GR[("apps", "daemonsets")], reconcile_daemonset)):
            for obj in STORE.list(rt):
                try:
                    fn(obj, t)
                except Exception as e:  # a bad object must not stop the controller
                    sys.stderr.write("fake-apiserver: controller: %s/%s: %r\n" % (rt.plural, obj["metadata"].get("name"), e))
        reconcile_bare_pods(t)
        collect_garbage()


def controller_loop(stop):
    while not stop.wait(ARGS.tick):
        reconcile_all()


# ---------------------------------------------------------------------------
# Discovery and OpenAPI documents


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


def resource_paths(rt):
    """The collection and item paths of a resource type."""
    base = "/api/v1" if not rt.group else "/apis/%s/%s" % (rt.group, rt.version)
    if rt.namespaced:
        return base + "/namespaces/{namespace}/" + rt.plural, base + "/namespaces/{namespace}/" + rt.plural + "/{name}"
    return base + "/" + rt.plural, base + "/" + rt.plural + "/{name}"


PATCH_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")


def openapi_v3_doc(group):
    paths = {}
    for rt in GROUPS[group]:
        coll, item = resource_paths(rt)
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        op_name = (rt.group.capitalize() if rt.group else "Core") + "V1" + ("Namespaced" if rt.namespaced else "") + rt.kind

        def op(action, params):
            return {"operationId": action + op_name, "x-kubernetes-action": action,
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [{"name": p, "in": "query", "schema": {"type": "boolean" if p == "force" else "string"}}
                                   for p in params],
                    "responses": {"200": {"description": "OK"}}}

        paths[coll] = {"get": op("list", ()), "post": op("post", PATCH_PARAMS[:3])}
        # No requestBody content on purpose: kubectl then computes
        # strategic merge patches from its own built-in types.
        paths[item] = {"get": op("get", ()), "put": op("put", PATCH_PARAMS[:3]),
                       "patch": op("patch", PATCH_PARAMS), "delete": op("delete", ("dryRun",))}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (fake)", "version": ARGS.server_version},
            "paths": paths, "components": {"schemas": {}}}


def openapi_v3_root():
    paths = {}
    for g in GROUPS:
        p = "api/v1" if not g else "apis/%s/v1" % g
        paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, safe_hash(canon(openapi_v3_doc(g)), 16).upper())}
    return {"paths": paths}


def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def openapi_v2_protobuf():
    """A minimal OpenAPI v2 document in gnostic's protobuf encoding (what
    kubectl asks /openapi/v2 for): no definitions, so client-side
    validation finds no schema and lets every object through, and for each
    resource a PATCH operation that accepts dryRun, fieldManager and
    fieldValidation, with its group-version-kind, so that the dry-run and
    field-validation checks of older kubectl pass."""
    path_items = b""
    for rt in RTYPES:
        _, item = resource_paths(rt)
        ext_yaml = "group: %s\nkind: %s\nversion: %s\n" % (json.dumps(rt.group), rt.kind, rt.version)
        vendor = pb_bytes(1, "x-kubernetes-group-version-kind") + pb_bytes(2, pb_bytes(2, ext_yaml))
        params = b""
        for p in PATCH_PARAMS:
            q = pb_bytes(2, "query") + pb_bytes(4, p) + pb_bytes(6, "boolean" if p == "force" else "string")
            nbp = pb_bytes(3, q)             # NonBodyParameter.query_parameter_sub_schema
            param = pb_bytes(2, nbp)         # Parameter.non_body_parameter
            params += pb_bytes(8, pb_bytes(1, param))  # Operation.parameters / ParametersItem.parameter
        op = pb_bytes(5, "patch" + rt.kind) + params + pb_bytes(13, vendor)
        path_item = pb_bytes(8, op)          # PathItem.patch
        path_items += pb_bytes(2, pb_bytes(1, item) + pb_bytes(2, path_item))  # Paths.path / NamedPathItem
    info = pb_bytes(1, "Kubernetes") + pb_bytes(2, ARGS.server_version)
    return pb_bytes(1, "2.0") + pb_bytes(2, info) + pb_bytes(8, path_items)


def version_doc():
    m = re.match(r"^v(\d+)\.(\d+)", ARGS.server_version)
    major, minor = (m.group(1), m.group(2)) if m else ("1", "32")
    return {"major": major, "minor": minor, "gitVersion": ARGS.server_version,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0", "compiler": "gc",
            "platform": "linux/amd64"}


# ---------------------------------------------------------------------------
# Tables (what `kubectl get` prints without -o)


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


# ---------------------------------------------------------------------------
# HTTP

LOG_LOCK = threading.Lock()


def log_request(entry):
    if not ARGS.log:
        return
    line = json.dumps(entry, separators=(",", ":")) + "\n"
    with LOG_LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(line)


class Route:
    """A parsed resource path."""

    def __init__(self):
        self.rt = None
        self.ns = ""
        self.name = None
        self.sub = ""
        self.watch = False


def parse_resource_path(path):
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis" and parts[2] == "v1" and parts[1] in GROUPS:
        group, rest = parts[1], parts[3:]
    else:
        return None
    r = Route()
    if rest and rest[0] == "watch":
        r.watch = True
        rest = rest[1:]
    if len(rest) >= 3 and rest[0] == "namespaces" and rt_of(group, rest[2]) is not None and rt_of(group, rest[2]).namespaced:
        r.ns = rest[1]
        rest = rest[2:]
    if not rest:
        return None
    r.rt = rt_of(group, rest[0])
    if r.rt is None:
        return None
    if len(rest) >= 2:
        r.name = rest[1]
    if len(rest) >= 3:
        r.sub = rest[2]
    if len(rest) > 3 or (r.sub and r.sub not in r.rt.subresources):
        return None
    if r.rt.namespaced is False:
        r.ns = ""
    return r


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"
    sys_version = ""

    def log_message(self, fmt, *args):  # the JSON lines log replaces it
        pass

    # -- responses --

    def send_body(self, code, body, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status_code = code

    def send_error_status(self, err):
        self.send_body(err.code, err.status())

    # -- request plumbing --

    def handle_any(self):
        self.status_code = 0
        self.t0 = time.time()
        u = urllib.parse.urlsplit(self.path)
        self.url_path = u.path
        self.query_raw = u.query
        self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        self.route = None
        self.body = b""
        self.log_extra = {}
        self.logged = False
        try:
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise bad_request("bad Content-Length")
            if n > MAX_BODY:
                self.rfile.read(n)
                raise ApiError(413, "RequestEntityTooLarge", "the request body is larger than %d bytes" % MAX_BODY)
            if n:
                self.body = self.rfile.read(n)
            self.dispatch()
        except ApiError as e:
            self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug here must show, not hang kubectl
            import traceback
            traceback.print_exc()
            self.send_error_status(ApiError(500, "InternalError", "fake-apiserver: %r" % e))
        finally:
            if not self.logged:
                self.write_log()

    def write_log(self):
        self.logged = True
        r = self.route
        entry = {"ts": "%.3f" % self.t0, "method": self.command, "path": self.url_path, "query": self.query_raw,
                 "params": self.q, "content_type": self.headers.get("Content-Type", ""),
                 "accept": self.headers.get("Accept", ""), "user_agent": self.headers.get("User-Agent", ""),
                 "status": self.status_code}
        if r is not None:
            entry.update({"verb": self.verb(), "group": r.rt.group, "resource": r.rt.plural, "namespace": r.ns,
                          "name": r.name or "", "subresource": r.sub})
        entry.update(self.log_extra)
        if ARGS.log_bodies and self.body:
            entry["body"] = self.body.decode("utf-8", "replace")
        log_request(entry)

    def verb(self):
        r = self.route
        m = self.command
        if m == "GET":
            if r.watch or self.q.get("watch") in ("1", "true"):
                return "watch"
            return "get" if r.name else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if r.name else "deletecollection"}.get(m, m.lower())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    def json_body(self):
        ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ct == "application/vnd.kubernetes.protobuf":
            self.log_extra["body_format"] = "protobuf"
            return pb_decode_object(self.body)
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError) as e:
            ct = self.headers.get("Content-Type", "")
            raise ApiError(415 if "yaml" in ct else 400, "BadRequest",
                           "fake-apiserver reads JSON bodies only (%s): %s" % (ct or "no content type", e))

    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def dispatch(self):
        p = self.url_path.rstrip("/") or "/"
        m = self.command
        if m in ("GET", "HEAD"):
            doc = self.static_doc(p)
            if doc is not None:
                return
        route = parse_resource_path(p)
        if route is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.route = route
        handler = {"GET": self.do_read, "HEAD": self.do_read, "POST": self.do_post, "PUT": self.do_put,
                   "PATCH": self.do_patch, "DELETE": self.do_delete_req}.get(m)
        if handler is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        handler()

    def static_doc(self, p):
        accept = self.headers.get("Accept") or ""
        if p == "/version":
            self.send_body(200, version_doc())
        elif p in ("/healthz", "/livez", "/readyz"):
            self.send_body(200, "ok", "text/plain; charset=utf-8")
        elif p in ("/api", "/apis"):
            agg = None
            if not ARGS.no_aggregated_discovery:
                for part in accept.split(","):
                    if "as=APIGroupDiscoveryList" in part and "g=apidiscovery.k8s.io" in part:
                        agg = "v2" if "v=v2;" in part + ";" and "v=v2beta1" not in part else "v2beta1"
                        break
            if agg:
                groups = [""] if p == "/api" else [g for g in GROUPS if g]
                self.send_body(200, aggregated(groups, agg),
                               "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList" % agg)
            elif p == "/api":
                host = self.server.server_address
                self.send_body(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "%s:%d" % (host[0], host[1])}]})
            else:
                self.send_body(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                     "groups": [{k: v for k, v in group_doc(g).items() if k not in ("kind", "apiVersion")}
                                                for g in GROUPS if g]})
        elif p == "/api/v1":
            self.send_body(200, resource_list(""))
        elif p.startswith("/apis/") and p.count("/") == 2 and p.split("/")[2] in GROUPS:
            self.send_body(200, group_doc(p.split("/")[2]))
        elif p.startswith("/apis/") and p.count("/") == 3 and p.split("/")[2] in GROUPS and p.endswith("/v1"):
            self.send_body(200, resource_list(p.split("/")[2]))
        elif p == "/openapi/v2":
            if "protobuf" in accept:
                self.send_body(200, openapi_v2_protobuf(), "application/octet-stream")
            else:
                self.send_body(200, {"swagger": "2.0", "info": {"title": "Kubernetes", "version": ARGS.server_version},
                                     "paths": {}, "definitions": {}})
        elif p == "/openapi/v3" and not ARGS.no_openapi_v3:
            self.send_body(200, openapi_v3_root())
        elif p.startswith("/openapi/v3/") and not ARGS.no_openapi_v3:
            rest = p[len("/openapi/v3/"):]
            g = "" if rest == "api/v1" else (rest.split("/")[1] if rest.startswith("apis/") and rest.endswith("/v1") else None)
            if g is None or g not in GROUPS:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self.send_body(200, openapi_v3_doc(g))
        else:
            return None
        return True

    # -- reads --

    def do_read(self):
        r = self.route
        if r.watch or self.q.get("watch") in ("1", "true"):
            return self.do_watch()
        if r.name is None:
            return self.do_list()
        obj = STORE.get(r.rt, r.ns, r.name)
        if obj is None:
            raise not_found(r.rt, r.name)
        if r.sub == "scale":
            return self.send_body(200, scale_of(r.rt, obj))
        if r.sub == "log":
            return self.send_body(200, "fake log of pod %s\n" % r.name, "text/plain")
        if self.wants_table() and not r.sub:
            return self.send_body(200, table_for(r.rt, [obj], self.q.get("includeObject", "Metadata")))
        self.send_body(200, obj)

    def selected(self, rt, ns):
        lsel = parse_label_selector(self.q.get("labelSelector", ""))
        fsel = parse_field_selector(self.q.get("fieldSelector", ""))
        with STORE.lock:
            objs = STORE.list(rt, ns if rt.namespaced and ns else None)
            rv = STORE.rv
        return [o for o in objs if labels_match(lsel, o["metadata"].get("labels")) and fields_match(fsel, o)], rv

    def do_list(self):
        r = self.route
        objs, rv = self.selected(r.rt, r.ns)
        if self.wants_table():
            tbl = table_for(r.rt, objs, self.q.get("includeObject", "Metadata"))
            tbl["metadata"]["resourceVersion"] = str(rv)
            return self.send_body(200, tbl)
        for o in objs:  # items of a list carry no kind, as from the real server
            o.pop("kind", None)
            o.pop("apiVersion", None)
        self.send_body(200, {"kind": r.rt.kind + "List", "apiVersion": r.rt.api_version,
                             "metadata": {"resourceVersion": str(rv)}, "items": objs})

    def do_watch(self):
        r = self.route
        lsel = parse_label_selector(self.q.get("labelSelector", ""))
        fsel = parse_field_selector(self.q.get("fieldSelector", ""))
        if r.name:
            fsel.append(("metadata.name", False, r.name))
        try:
            timeout = float(self.q.get("timeoutSeconds") or ARGS.watch_timeout)
        except ValueError:
            timeout = ARGS.watch_timeout
        timeout = min(timeout, ARGS.watch_timeout)
        deadline = time.time() + timeout
        rv_param = self.q.get("resourceVersion", "")
        initial = self.q.get("sendInitialEvents") == "true"
        bookmarks = self.q.get("allowWatchBookmarks") == "true"

        def matches(ev_ns, obj):
            if r.rt.namespaced and r.ns and ev_ns != r.ns:
                return False
            return labels_match(lsel, obj["metadata"].get("labels")) and fields_match(fsel, obj)

        pending = []
        with STORE.lock:
            if rv_param in ("", "0") or initial:
                objs = [o for o in STORE.list(r.rt, r.ns if r.rt.namespaced and r.ns else None)
                        if matches(o["metadata"].get("namespace", ""), o)]
                pending = [("ADDED", o) for o in objs]
                last = STORE.rv
                if initial:
                    pending.append(("BOOKMARK", {"kind": r.rt.kind, "apiVersion": r.rt.api_version, "metadata": {
                        "resourceVersion": str(last), "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                try:
                    last = int(rv_param)
                except ValueError:
                    raise bad_request("invalid resourceVersion %r" % rv_param)
                oldest = STORE.history[0].rv if STORE.history else STORE.rv + 1
                if last < oldest - 1 and last < STORE.rv:
                    pending = [("ERROR", ApiError(410, "Expired", "too old resource version: %d (%d)" %
                                                  (last, oldest - 1)).status())]
                    deadline = 0
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.status_code = 200
        self.write_log()  # now, not when the watch ends: tests read the log while it runs
        sock = self.connection
        last_bookmark = time.time()
        table = self.wants_table()
        headers_sent = False
        try:
            while True:
                for etype, obj in pending:
                    if table and etype in ("ADDED", "MODIFIED", "DELETED"):
                        obj = table_for(r.rt, [obj], self.q.get("includeObject", "Metadata"))
                        if headers_sent:
                            obj["columnDefinitions"] = []
                        headers_sent = True
                    data = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                pending = []
                if time.time() >= deadline:
                    break
                with STORE.lock:
                    if STORE.rv <= last:
                        STORE.cond.wait(min(0.5, max(0.0, deadline - time.time())))
                    new = []
                    for e in reversed(STORE.history):  # newest first; stop at what was sent
                        if e.rv <= last:
                            break
                        new.append(e)
                    new.reverse()
                    last = max(last, STORE.rv)
                    for e in new:
                        if e.group == r.rt.group and e.plural == r.rt.plural and matches(e.ns, e.obj):
                            pending.append((e.type, e.obj))
                if bookmarks and not pending and time.time() - last_bookmark > 5:
                    pending.append(("BOOKMARK", {"kind": r.rt.kind, "apiVersion": r.rt.api_version,
                                                 "metadata": {"resourceVersion": str(last)}}))
                    last_bookmark = time.time()
                rd, _, _ = select.select([sock], [], [], 0)
                if rd:
                    try:
                        if not sock.recv(1, socket.MSG_PEEK):
                            break
                    except OSError:
                        break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True

    # -- writes --

    def dry_run(self):
        return self.q.get("dryRun") == "All"

    def do_post(self):
        r = self.route
        if r.name:
            raise ApiError(405, "MethodNotAllowed", "POST is not allowed on a named %s" % r.rt.singular)
        obj = self.json_body()
        out = do_create(r.rt, r.ns, obj, self.dry_run())
        self.log_extra.update(result="created", name=out["metadata"]["name"])
        self.send_body(201, out)

    def do_put(self):
        r = self.route
        if not r.name:
            raise ApiError(405, "MethodNotAllowed", "PUT needs a name")
        old = STORE.get(r.rt, r.ns, r.name)
        body = self.json_body()
        if r.sub == "scale":
            if old is None:
                raise not_found(r.rt, r.name)
            return self.update_scale(old, ((body or {}).get("spec") or {}).get("replicas"))
        if old is None:  # like most real resources: no create on update
            raise not_found(r.rt, r.name)
        out = do_update(r.rt, r.ns, r.name, body, old, self.dry_run(), r.sub)
        self.note_change(old, out)
        self.send_body(200, out)

    def note_change(self, old, new):
        self.log_extra["result"] = "unchanged" if old["metadata"]["resourceVersion"] == new["metadata"].get("resourceVersion") else "changed"
        if old["metadata"].get("generation") != new["metadata"].get("generation"):
            self.log_extra["generation"] = new["metadata"].get("generation")

    def update_scale(self, obj, replicas):
        r = self.route
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid(r.rt, r.name, "spec.replicas: Invalid value")
        new = copy.deepcopy(obj)
        new["spec"]["replicas"] = replicas
        out = do_update(r.rt, r.ns, r.name, new, obj, self.dry_run())
        self.send_body(200, scale_of(r.rt, out))

    def do_patch(self):
        r = self.route
        if not r.name:
            raise ApiError(405, "MethodNotAllowed", "PATCH needs a name")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        self.log_extra["patch_type"] = ctype
        patch = self.json_body()
        with STORE.lock:
            old = STORE.get(r.rt, r.ns, r.name)
            if ctype == "application/apply-patch+yaml":
                return self.server_side_apply(old, patch)
            if old is None:
                raise not_found(r.rt, r.name)
            if r.sub == "scale":
                sc = scale_of(r.rt, old)
                sc2 = merge_patch(sc, patch) if ctype != "application/json-patch+json" else json_patch(sc, patch)
                return self.update_scale(old, (sc2.get("spec") or {}).get("replicas"))
            if ctype == "application/strategic-merge-patch+json":
                new = smp_map(old, patch)
            elif ctype == "application/merge-patch+json":
                new = merge_patch(old, patch)
            elif ctype == "application/json-patch+json":
                new = json_patch(old, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml, application/strategic-merge-patch+json")
            if not isinstance(new, dict):
                raise bad_request("the patch did not produce an object")
            new.setdefault("metadata", {})["resourceVersion"] = (patch.get("metadata") or {}).get("resourceVersion") \
                if isinstance(patch, dict) else None
            if not new["metadata"]["resourceVersion"]:
                new["metadata"].pop("resourceVersion")
            out = do_update(r.rt, r.ns, r.name, new, old, self.dry_run(), r.sub)
        self.note_change(old, out)
        self.send_body(200, out)

    def server_side_apply(self, old, config):
        r = self.route
        manager = self.q.get("fieldManager")
        if not manager:
            raise invalid(r.rt, r.name, "fieldManager: Required value: is required for apply patch")
        if not isinstance(config, dict) or not config.get("apiVersion") or not config.get("kind"):
            raise bad_request("apply patches need apiVersion and kind")
        config = copy.deepcopy(config)
        config.setdefault("metadata", {}).setdefault("name", r.name)
        if old is None:
            out = do_create(r.rt, r.ns, copy.deepcopy(config), self.dry_run())
            if not self.dry_run():
                STORE.ssa[(out["metadata"]["uid"], manager)] = config
            self.log_extra["result"] = "created"
            return self.send_body(201, out)
        prev = STORE.ssa.get((old["metadata"]["uid"], manager), {})
        live = copy.deepcopy(old)
        for k in ("status",):
            config.pop(k, None)
        drop_unapplied(live, {k: v for k, v in prev.items() if k not in ("apiVersion", "kind")},
                       {k: v for k, v in config.items() if k not in ("apiVersion", "kind")})
        cfg_md = {k: v for k, v in config.get("metadata", {}).items() if k not in ("resourceVersion", "uid")}
        new = smp_map(live, dict(config, metadata=cfg_md))
        new["metadata"].pop("resourceVersion", None)
        out = do_update(r.rt, r.ns, r.name, new, old, self.dry_run())
        if not self.dry_run():
            STORE.ssa[(old["metadata"]["uid"], manager)] = config
        self.note_change(old, out)
        self.send_body(200, out)

    def do_delete_req(self):
        r = self.route
        opts = self.json_body() if self.body else {}
        orphan = isinstance(opts, dict) and (opts.get("propagationPolicy") == "Orphan" or opts.get("orphanDependents") is True)
        if self.q.get("propagationPolicy") == "Orphan":
            orphan = True
        if r.name is None:
            objs, _ = self.selected(r.rt, r.ns)
            if not self.dry_run():
                for o in objs:
                    do_delete(r.rt, o["metadata"].get("namespace", ""), o["metadata"]["name"], orphan)
            return self.send_body(200, {"kind": r.rt.kind + "List", "apiVersion": r.rt.api_version,
                                        "metadata": {"resourceVersion": str(STORE.rv)}, "items": objs})
        if self.dry_run():
            obj = STORE.get(r.rt, r.ns, r.name)
            if obj is None:
                raise not_found(r.rt, r.name)
            return self.send_body(200, obj)
        gone = do_delete(r.rt, r.ns, r.name, orphan)
        self.send_body(200, gone)


def scale_of(rt, obj):
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace", ""),
                         "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"],
                         "creationTimestamp": obj["metadata"]["creationTimestamp"]},
            "spec": {"replicas": obj["spec"].get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": selector_string(obj["spec"].get("selector"))}}


# ---------------------------------------------------------------------------
# Start-up


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def kubeconfig_text(url, context, namespace):
    return ("apiVersion: v1\nkind: Config\n"
            "clusters:\n- name: %(c)s\n  cluster:\n    server: %(u)s\n"
            "users:\n- name: %(c)s\n  user:\n    token: fake-token\n"
            "contexts:\n- name: %(c)s\n  context:\n    cluster: %(c)s\n    user: %(c)s\n    namespace: %(ns)s\n"
            "current-context: %(c)s\npreferences: {}\n") % {"c": context, "u": url, "ns": namespace}


def seed(namespaces):
    nrt = RT_BY_GR[("", "namespaces")]
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] + namespaces:
        if ns and STORE.get(nrt, "", ns) is None:
            do_create(nrt, "", {"metadata": {"name": ns}})
    node_rt = RT_BY_GR[("", "nodes")]
    for i in range(ARGS.nodes):
        name = "fake-node-%d" % (i + 1)
        do_create(node_rt, "", {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                                      "kubernetes.io/os": "linux"}},
                                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                                           "nodeInfo": {"kubeletVersion": ARGS.server_version}}})


def parse_args(argv):
    p = argparse.ArgumentParser(description="A fake Kubernetes API server for kubectl-driven tests (plain HTTP, in memory).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: the OS chooses)")
    p.add_argument("--url-file", help="write the server URL to this file (atomically) when ready")
    p.add_argument("--kubeconfig", help="write a kubeconfig for the server to this file")
    p.add_argument("--context", default="fake", help="context (and cluster and user) name in the kubeconfig (default fake)")
    p.add_argument("--default-namespace", default="default", help="namespace of the kubeconfig context (default default)")
    p.add_argument("--namespaces", default="", help="comma-separated namespaces to create at start (default, kube-system, "
                                                    "kube-public and kube-node-lease always exist)")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--log-bodies", action="store_true", help="include request bodies in the log")
    p.add_argument("--server-version", default="v1.32.0", help="gitVersion that /version reports (default v1.32.0)")
    p.add_argument("--pod-ready-seconds", type=float, default=0.2,
                   help="seconds a pod takes from creation to ready (default 0.2); annotation %s overrides it" % ANN_READY)
    p.add_argument("--progress-deadline", type=float, default=None,
                   help="seconds without progress before a Deployment gets ProgressDeadlineExceeded, instead of "
                        "its spec.progressDeadlineSeconds")
    p.add_argument("--bad-image-regex", default=r"(^|[/:@_.-])bad([/:@_.-]|$)",
                   help="images matching this never pull (ImagePullBackOff); default matches nginx:bad, bad/app, app:1-bad")
    p.add_argument("--nodes", type=int, default=1, help="number of fake nodes (DaemonSet pods; default 1)")
    p.add_argument("--tick", type=float, default=0.05, help="controller period in seconds (default 0.05)")
    p.add_argument("--watch-timeout", type=float, default=300, help="longest a watch request lasts (default 300 s)")
    p.add_argument("--max-lifetime", type=float, default=0, help="exit after this many seconds (default 0: never)")
    p.add_argument("--no-aggregated-discovery", action="store_true", help="serve legacy discovery only")
    p.add_argument("--no-openapi-v3", action="store_true", help="answer 404 to /openapi/v3")
    a = p.parse_args(argv)
    if a.host not in ("127.0.0.1", "localhost", "::1") and not a.host.startswith("127."):
        p.error("--host must be a loopback address")
    re.compile(a.bad_image_regex)
    return a


def main(argv):
    global ARGS
    ARGS = parse_args(argv)
    seed([n.strip() for n in ARGS.namespaces.split(",") if n.strip()])

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 64
        address_family = socket.AF_INET6 if ":" in ARGS.host else socket.AF_INET

    httpd = Server((ARGS.host, ARGS.port), Handler)
    host, port = httpd.server_address[:2]
    url = "http://%s:%d" % ("[%s]" % host if ":" in host else host, port)
    stop = threading.Event()
    threading.Thread(target=controller_loop, args=(stop,), daemon=True).start()

    def shutdown(*_):
        stop.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if ARGS.max_lifetime > 0:
        timer = threading.Timer(ARGS.max_lifetime, shutdown)
        timer.daemon = True
        timer.start()
    if ARGS.kubeconfig:
        write_atomic(ARGS.kubeconfig, kubeconfig_text(url, ARGS.context, ARGS.default_namespace))
    if ARGS.url_file:
        write_atomic(ARGS.url_file, url + "\n")
    print(url, flush=True)
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
