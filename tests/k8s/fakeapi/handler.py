"""HTTP: the request handler (discovery and OpenAPI documents, reads,
lists, watches, writes, server-side apply, the Scale subresource) and the
JSON lines request log.
"""

import copy
import json
import select
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from .discovery import aggregated, group_doc, resource_list, version_doc
from .errors import ApiError, bad_request, invalid, not_found
from .openapi import openapi_v2_protobuf, openapi_v3_doc, openapi_v3_root
from .options import ARGS
from .patches import drop_unapplied, json_patch, merge_patch, smp_map
from .protobuf import pb_decode_object
from .resources import GROUPS
from .routes import parse_resource_path
from .selectors import fields_match, labels_match, parse_field_selector, parse_label_selector, selector_string
from .store import STORE
from .tables import table_for
from .writes import do_create, do_delete, do_update


MAX_BODY = 3 * 1024 * 1024  # the real API server's default request limit


LOG_LOCK = threading.Lock()


def log_request(entry):
    if not ARGS.log:
        return
    line = json.dumps(entry, separators=(",", ":")) + "\n"
    with LOG_LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(line)


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
