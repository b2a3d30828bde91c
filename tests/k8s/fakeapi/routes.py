"""Resource paths: /api/v1/... and /apis/GROUP/v1/... URLs parsed into a
Route (resource type, namespace, name, subresource, watch).
"""

import urllib.parse

from .resources import GROUPS, rt_of


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
