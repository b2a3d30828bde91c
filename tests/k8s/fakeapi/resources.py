"""Resource types: what discovery lists and the store keys by, and the
lookups by group and resource (plural) or kind.
"""

import collections


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
