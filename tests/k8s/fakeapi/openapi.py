"""OpenAPI documents: v3 in JSON and v2 in gnostic's protobuf encoding,
with no schemas, just the operations that kubectl looks for.
"""

import json

from .common import canon, safe_hash
from .options import ARGS
from .resources import GROUPS, RTYPES


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
