"""Kubernetes protobuf bodies. kubectl 1.32 and later send the bodies of
their typed clients (kubectl create namespace|configmap|deployment ...)
as protobuf; k8s-proto-schema.json (made by
gen-proto-schema.py) gives the field numbers to turn them into JSON.

Both files sit in tests/k8s, the directory above this package.
"""

import base64
import datetime
import json
import os
import struct

from .errors import ApiError, bad_request


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
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(os.path.dirname(here), "k8s-proto-schema.json")
        try:
            with open(path, encoding="utf-8") as f:
                PB_SCHEMA = json.load(f)
        except OSError as e:
            raise ApiError(415, "UnsupportedMediaType", "fake-apiserver: protobuf body, and no schema: %s" % e)
    return PB_SCHEMA


def pb_varint_at(b, i):
    """The varint at b[i]: (value, index after it). IndexError when cut short."""
    v = s = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return v, i


def pb_fields(b):
    i, out = 0, []
    try:
        while i < len(b):
            k, i = pb_varint_at(b, i)
            num, wt = k >> 3, k & 7
            if wt == 0:
                v, i = pb_varint_at(b, i)
            elif wt == 2:
                n, i = pb_varint_at(b, i)
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
                n, i = pb_varint_at(v, i)
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
