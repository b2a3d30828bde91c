#!/usr/bin/env python3
"""Writes k8s-proto-schema.json: the protobuf field numbers of the
Kubernetes types that fake-apiserver.py may receive in protobuf.

kubectl 1.32 and later send the bodies of their typed clients (`kubectl
create namespace|configmap|secret|deployment|service ...`) as Kubernetes
protobuf, with no way to ask for JSON; fake-apiserver.py
turns them into JSON with this table. The field numbers come from the
gzipped FileDescriptorProtos that every kubectl binary embeds (gogo
protobuf registers them), so no .proto file or network is needed:

    tests/k8s/gen-proto-schema.py /path/to/kubectl > tests/k8s/k8s-proto-schema.json

Output: {"<message>": [flags, [number, json name, type], ...], ...} where
message names are shortened (core., apps., meta., intstr., resource.,
runtime., autoscaling.), flags is "M" for a map entry, and type is one of
s (string), y (bytes), b (bool), i (integer), d/f (double/float),
m:<message>, each with a leading * when repeated.
"""

import json
import re
import sys
import zlib

ROOTS = [
    "k8s.io.api.core.v1.Namespace", "k8s.io.api.core.v1.ConfigMap", "k8s.io.api.core.v1.Secret",
    "k8s.io.api.core.v1.Service", "k8s.io.api.core.v1.ServiceAccount", "k8s.io.api.core.v1.Pod",
    "k8s.io.api.apps.v1.Deployment", "k8s.io.api.apps.v1.StatefulSet", "k8s.io.api.apps.v1.DaemonSet",
    "k8s.io.api.apps.v1.ReplicaSet", "k8s.io.api.apps.v1.ControllerRevision", "k8s.io.api.autoscaling.v1.Scale",
]
PREFIXES = [
    ("k8s.io.apimachinery.pkg.apis.meta.v1.", "meta."), ("k8s.io.api.core.v1.", "core."),
    ("k8s.io.api.apps.v1.", "apps."), ("k8s.io.apimachinery.pkg.util.intstr.", "intstr."),
    ("k8s.io.apimachinery.pkg.api.resource.", "resource."), ("k8s.io.apimachinery.pkg.runtime.", "runtime."),
    ("k8s.io.api.autoscaling.v1.", "autoscaling."),
]
# FieldDescriptorProto types -> our codes.
TYPES = {9: "s", 12: "y", 8: "b", 5: "i", 3: "i", 13: "i", 4: "i", 17: "i", 18: "i", 1: "d", 2: "f", 11: "m", 14: "i"}


def varint(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def fields(b):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        f, wt = k >> 3, k & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((f, v))
    return out


def short(name):
    for long_, s in PREFIXES:
        if name.startswith(long_):
            return s + name[len(long_):]
    return name


def main(path):
    data = open(path, "rb").read()
    msgs = {}
    for m in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00", data):
        try:
            fd_bytes = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + 4000000])
            if not fd_bytes.startswith(b"\n") or b"k8s.io" not in fd_bytes[:100]:
                continue
            fd = fields(fd_bytes)
        except (zlib.error, ValueError, IndexError):
            continue
        pkg = next((v.decode() for f, v in fd if f == 2), "")

        def walk(prefix, mb):
            mf = fields(mb)
            full = prefix + "." + next(v.decode() for f, v in mf if f == 1)
            fl, is_map = [], False
            for f, v in mf:
                if f == 2:  # field
                    ff = {}
                    for a, b in fields(v):
                        ff.setdefault(a, b)
                    fl.append((ff[3], ff[1].decode(), ff.get(4, 1), ff[5], ff.get(6, b"").decode().lstrip(".")))
                elif f == 3:  # nested message
                    walk(full, v)
                elif f == 7:  # options: map_entry is field 7
                    is_map = is_map or any(a == 7 and b == 1 for a, b in fields(v))
            msgs[full] = (fl, is_map)

        for f, v in fd:
            if f == 4:
                walk(pkg, v)
    need, seen = [], set()

    def add(n):
        if n in seen or n not in msgs:
            return
        seen.add(n)
        need.append(n)
        for _, _, _, typ, tn in msgs[n][0]:
            if typ == 11:
                add(tn)

    for r in ROOTS:
        add(r)
    missing = [r for r in ROOTS if r not in msgs]
    if missing:
        sys.exit("gen-proto-schema: not found in %s: %s" % (path, ", ".join(missing)))
    lines = []
    for n in sorted(need, key=short):
        fl, is_map = msgs[n]
        entry = ["M" if is_map else ""] + [
            [num, name, ("*" if label == 3 else "") + TYPES[typ] + (":" + short(tn) if typ == 11 else "")]
            for num, name, label, typ, tn in fl]
        lines.append("%s: %s" % (json.dumps(short(n)), json.dumps(entry, separators=(",", ":"))))
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen-proto-schema.py KUBECTL_BINARY > k8s-proto-schema.json")
    main(sys.argv[1])
