#include "k8s/workload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/xalloc.h"

json_t *k8s_objects(const char *text, struct buf *err)
{
	const char *s = text;
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	json_t *arr = json_array();
	if (!*s)
		return arr;
	json_error_t jerr;
	json_t *o = json_loads(s, 0, &jerr);
	if (!json_is_object(o)) {
		buf_addf(err, "kubectl did not answer with JSON: %s", jerr.text);
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	json_t *items = json_object_get(o, "items");
	const char *kind = k8s_str(o, "kind", NULL);
	if (kind && !strcmp(kind, "List") && json_is_array(items)) {
		size_t i;
		json_t *v;
		json_array_foreach(items, i, v)
			if (json_is_object(v))
				json_array_append(arr, v);
		json_decref(o);
		return arr;
	}
	/* `get TYPE` lists come as FooList with items too. */
	if (json_is_array(items) && kind && strlen(kind) > 4 && !strcmp(kind + strlen(kind) - 4, "List")) {
		size_t i;
		json_t *v;
		json_array_foreach(items, i, v)
			if (json_is_object(v))
				json_array_append(arr, v);
		json_decref(o);
		return arr;
	}
	json_array_append_new(arr, o);
	return arr;
}

static json_t *walk(json_t *o, va_list ap)
{
	const char *k;
	while (o && (k = va_arg(ap, const char *)))
		o = json_object_get(o, k);
	return o;
}

const char *k8s_str(json_t *o, ...)
{
	va_list ap;
	va_start(ap, o);
	json_t *v = walk(o, ap);
	va_end(ap);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long k8s_int(json_t *o, ...)
{
	va_list ap;
	va_start(ap, o);
	json_t *v = walk(o, ap);
	va_end(ap);
	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

const char *k8s_workload_kind(json_t *obj)
{
	const char *api = k8s_str(obj, "apiVersion", NULL);
	const char *kind = k8s_str(obj, "kind", NULL);
	if (!api || !kind || strncmp(api, "apps/", 5) != 0)
		return NULL;
	static const char *const kinds[] = { "Deployment", "StatefulSet", "DaemonSet" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i]))
			return kinds[i];
	return NULL;
}

const char *k8s_resource_of(const char *kind)
{
	if (!strcmp(kind, "Deployment"))
		return "deployment";
	if (!strcmp(kind, "StatefulSet"))
		return "statefulset";
	if (!strcmp(kind, "DaemonSet"))
		return "daemonset";
	return "unknown";
}

void k8s_describe(const char *kind, const char *ns, const char *name, struct buf *out)
{
	buf_addf(out, "%s/%s", k8s_resource_of(kind), name);
	if (ns)
		buf_addf(out, " in %s", ns);
}

static bool owned_by(json_t *obj, const char *uid)
{
	json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r) {
		const char *u = k8s_str(r, "uid", NULL);
		if (u && uid && !strcmp(u, uid))
			return true;
	}
	return false;
}

/* The revision number of a ReplicaSet or ControllerRevision. */
static long long revision_of(json_t *obj, bool replicaset)
{
	if (replicaset)
		return k8s_int(obj, "metadata", "annotations", "deployment.kubernetes.io/revision", NULL);
	return k8s_int(obj, "revision", NULL);
}

/* The ReplicaSets (Deployment) or ControllerRevisions the workload owns. */
static json_t *owned_revisions(const struct kubectl *k, const char *kind, const char *ns,
			       const char *uid, struct buf *err)
{
	bool rs = !strcmp(kind, "Deployment");
	const char *args[] = { "get", rs ? "replicasets" : "controllerrevisions", "-n", ns, "-o", "json",
			       NULL };
	struct kubectl_out o = KUBECTL_OUT_INIT;
	json_t *all = NULL;
	if (kubectl_run(k, args, false, &o) < 0 || o.status != 0) {
		struct buf line = BUF_INIT;
		kubectl_first_line(o.err.s, &line);
		buf_addf(err, "cannot list the %s of %s/%s: %s", rs ? "ReplicaSets" : "ControllerRevisions",
			 k8s_resource_of(kind), ns, line.len ? line.s : "kubectl failed");
		buf_release(&line);
	} else {
		all = k8s_objects(o.out.s, err);
	}
	kubectl_out_release(&o);
	if (!all)
		return NULL;
	json_t *mine = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
		if (owned_by(v, uid))
			json_array_append(mine, v);
	json_decref(all);
	return mine;
}

int k8s_current_revision(const struct kubectl *k, json_t *obj, long long *rev, char **rev_name,
			 struct buf *err)
{
	*rev = 0;
	*rev_name = NULL;
	const char *kind = k8s_workload_kind(obj);
	const char *ns = k8s_str(obj, "metadata", "namespace", NULL);
	const char *uid = k8s_str(obj, "metadata", "uid", NULL);
	if (!kind || !ns || !uid)
		return 0;
	bool rs = !strcmp(kind, "Deployment");
	json_t *mine = owned_revisions(k, kind, ns, uid, err);
	if (!mine)
		return -1;
	long long want = 0;
	const char *want_name = NULL;
	if (rs)
		want = k8s_int(obj, "metadata", "annotations", "deployment.kubernetes.io/revision", NULL);
	else if (!strcmp(kind, "StatefulSet"))
		want_name = k8s_str(obj, "status", "updateRevision", NULL);
	json_t *best = NULL;
	long long best_rev = 0;
	size_t i;
	json_t *v;
	json_array_foreach(mine, i, v) {
		long long r = revision_of(v, rs);
		const char *name = k8s_str(v, "metadata", "name", NULL);
		if ((want && r == want) || (want_name && name && !strcmp(name, want_name))) {
			best = v;
			best_rev = r;
			break;
		}
		/* Without a say from the workload: the newest. */
		if (r > best_rev) {
			best = v;
			best_rev = r;
		}
	}
	if (best) {
		*rev = best_rev;
		const char *name = k8s_str(best, "metadata", "name", NULL);
		*rev_name = name ? xstrdup(name) : NULL;
	}
	json_decref(mine);
	return 0;
}

int k8s_revision_number(const struct kubectl *k, const char *kind, const char *ns, const char *uid,
			const char *rev_name, long long *rev, struct buf *err)
{
	*rev = 0;
	json_t *mine = owned_revisions(k, kind, ns, uid, err);
	if (!mine)
		return -1;
	size_t i;
	json_t *v;
	json_array_foreach(mine, i, v) {
		const char *name = k8s_str(v, "metadata", "name", NULL);
		if (name && rev_name && !strcmp(name, rev_name))
			*rev = revision_of(v, !strcmp(kind, "Deployment"));
	}
	json_decref(mine);
	return 0;
}

/* "app=web,tier=front" from spec.selector.matchLabels. */
static void selector_of(json_t *obj, struct buf *out)
{
	json_t *ml = json_object_get(json_object_get(json_object_get(obj, "spec"), "selector"),
				     "matchLabels");
	const char *key;
	json_t *v;
	json_object_foreach(ml, key, v) {
		if (!json_is_string(v))
			continue;
		buf_addf(out, "%s%s=%s", out->len ? "," : "", key, json_string_value(v));
	}
}

/*
 * The first container problem among `statuses`: "ImagePullBackOff:
 * Back-off pulling image "x"", "CrashLoopBackOff: ...", "Error (exit
 * code 1)". False when every container is fine or merely starting.
 */
static bool container_problem(json_t *statuses, struct buf *out)
{
	size_t i;
	json_t *c;
	json_array_foreach(statuses, i, c) {
		json_t *w = json_object_get(json_object_get(c, "state"), "waiting");
		const char *reason = k8s_str(w, "reason", NULL);
		if (reason && strcmp(reason, "ContainerCreating") && strcmp(reason, "PodInitializing")) {
			const char *msg = k8s_str(w, "message", NULL);
			buf_adds(out, reason);
			if (msg && *msg)
				buf_addf(out, ": %s", msg);
			return true;
		}
		json_t *t = json_object_get(json_object_get(c, "state"), "terminated");
		if (t && k8s_int(t, "exitCode", NULL) != 0) {
			const char *r = k8s_str(t, "reason", NULL);
			buf_addf(out, "%s (exit code %lld)", r ? r : "terminated",
				 k8s_int(t, "exitCode", NULL));
			return true;
		}
	}
	return false;
}

/* Why the pods of a workload do not get ready: "pod web-7c9f: ImagePullBackOff: ...". */
static void pod_reason(const struct kubectl *k, json_t *obj, const char *ns, struct buf *out)
{
	struct buf sel = BUF_INIT;
	selector_of(obj, &sel);
	if (!sel.len) {
		buf_release(&sel);
		return;
	}
	const char *args[] = { "get", "pods", "-n", ns, "-l", sel.s, "-o", "json", NULL };
	struct kubectl_out o = KUBECTL_OUT_INIT;
	struct buf err = BUF_INIT;
	json_t *pods = NULL;
	if (kubectl_run(k, args, false, &o) == 0 && o.status == 0)
		pods = k8s_objects(o.out.s, &err);
	kubectl_out_release(&o);
	buf_release(&sel);
	buf_release(&err);
	if (!pods)
		return;
	size_t i;
	json_t *p;
	struct buf why = BUF_INIT;
	json_array_foreach(pods, i, p) {
		buf_reset(&why);
		json_t *st = json_object_get(p, "status");
		if (container_problem(json_object_get(st, "initContainerStatuses"), &why) ||
		    container_problem(json_object_get(st, "containerStatuses"), &why)) {
			buf_addf(out, ": pod %s: %s", k8s_str(p, "metadata", "name", NULL), why.s);
			break;
		}
		/* Not even scheduled: the scheduler says why. */
		size_t j;
		json_t *c;
		json_array_foreach(json_object_get(st, "conditions"), j, c) {
			const char *type = k8s_str(c, "type", NULL), *status = k8s_str(c, "status", NULL);
			if (type && status && !strcmp(type, "PodScheduled") && !strcmp(status, "False")) {
				const char *r = k8s_str(c, "reason", NULL), *m = k8s_str(c, "message", NULL);
				buf_addf(&why, "%s%s%s", r ? r : "Unschedulable", m ? ": " : "", m ? m : "");
			}
		}
		if (why.len) {
			buf_addf(out, ": pod %s: %s", k8s_str(p, "metadata", "name", NULL), why.s);
			break;
		}
	}
	buf_release(&why);
	json_decref(pods);
}

static bool pod_ready(json_t *pod)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
		const char *type = k8s_str(c, "type", NULL), *status = k8s_str(c, "status", NULL);
		if (type && status && !strcmp(type, "Ready"))
			return !strcmp(status, "True");
	}
	return false;
}

int k8s_delete_stuck_pods(const struct kubectl *k, json_t *obj, const char *rev_name,
			  struct buf *err)
{
	const char *ns = k8s_str(obj, "metadata", "namespace", NULL);
	const char *uid = k8s_str(obj, "metadata", "uid", NULL);
	struct buf sel = BUF_INIT;
	selector_of(obj, &sel);
	if (!ns || !uid || !sel.len || !rev_name) {
		buf_release(&sel);
		return 0;
	}
	const char *args[] = { "get", "pods", "-n", ns, "-l", sel.s, "-o", "json", NULL };
	struct kubectl_out o = KUBECTL_OUT_INIT;
	json_t *pods = NULL;
	if (kubectl_run(k, args, false, &o) < 0 || o.status != 0) {
		struct buf line = BUF_INIT;
		kubectl_first_line(o.err.len ? o.err.s : "kubectl get pods failed", &line);
		buf_addf(err, "cannot list its pods: %s", line.s);
		buf_release(&line);
	} else {
		pods = k8s_objects(o.out.s, err);
	}
	kubectl_out_release(&o);
	buf_release(&sel);
	if (!pods)
		return -1;
	int deleted = 0;
	size_t i;
	json_t *p;
	json_array_foreach(pods, i, p) {
		const char *hash = k8s_str(p, "metadata", "labels", "controller-revision-hash", NULL);
		const char *name = k8s_str(p, "metadata", "name", NULL);
		if (!name || !owned_by(p, uid) || pod_ready(p) || (hash && !strcmp(hash, rev_name)))
			continue;
		fprintf(stdout, "deleting pod %s: stuck at revision %s, not ready (a StatefulSet does not replace it by itself)\n",
			name, hash ? hash : "?");
		const char *dargs[] = { "delete", "pod", name, "-n", ns, "--wait=false", NULL };
		struct kubectl_out d = KUBECTL_OUT_INIT;
		if (kubectl_run(k, dargs, true, &d) < 0 || (d.status != 0 && !strstr(d.err.s, "NotFound"))) {
			struct buf line = BUF_INIT;
			kubectl_first_line(d.err.len ? d.err.s : "kubectl delete failed", &line);
			buf_addf(err, "cannot delete its stuck pod %s: %s", name, line.s);
			buf_release(&line);
			kubectl_out_release(&d);
			json_decref(pods);
			return -1;
		}
		kubectl_out_release(&d);
		deleted++;
	}
	json_decref(pods);
	return deleted;
}

/* "1 of 2 updated pods ready", from the workload's status. */
static void progress_of(json_t *obj, const char *kind, struct buf *out)
{
	json_t *st = json_object_get(obj, "status");
	long long want, updated, ready;
	if (!strcmp(kind, "DaemonSet")) {
		want = k8s_int(st, "desiredNumberScheduled", NULL);
		updated = k8s_int(st, "updatedNumberScheduled", NULL);
		ready = k8s_int(st, "numberAvailable", NULL);
	} else {
		json_t *spec = json_object_get(obj, "spec");
		json_t *r = json_object_get(spec, "replicas");
		want = json_is_integer(r) ? (long long)json_integer_value(r) : 1;
		updated = k8s_int(st, "updatedReplicas", NULL);
		ready = k8s_int(st, !strcmp(kind, "Deployment") ? "availableReplicas" : "readyReplicas", NULL);
	}
	buf_addf(out, "%lld of %lld pods updated, %lld %s", updated, want, ready,
		 !strcmp(kind, "StatefulSet") ? "ready" : "available");
}

int k8s_wait_rollout(const struct kubectl *k, const char *kind, const char *ns, const char *name,
		     struct buf *reason)
{
	struct buf target = BUF_INIT, to = BUF_INIT;
	buf_addf(&target, "%s/%s", k8s_resource_of(kind), name);
	uint64_t now = clock_mono_ms();
	uint64_t left = k->deadline_ms > now ? k->deadline_ms - now : 0;
	struct kubectl_out o = KUBECTL_OUT_INIT;
	int ran = -1;
	if (left > 0) {
		buf_addf(&to, "--timeout=%llums", (unsigned long long)left);
		/* kubectl's own --timeout ends it first; the deadline is a backstop. */
		struct kubectl kk = *k;
		kk.deadline_ms = k->deadline_ms + 5000;
		const char *args[] = { "rollout", "status", target.s, "-n", ns, to.s, NULL };
		ran = kubectl_run(&kk, args, true, &o);
	}
	int rc = 0;
	if (ran == 0 && o.status == 0)
		goto out;
	rc = -1;
	bool deadline = strstr(o.err.s, "exceeded its progress deadline") != NULL;
	bool timeout = left == 0 || o.timed_out || strstr(o.err.s, "timed out waiting") != NULL;
	k8s_describe(kind, ns, name, reason);
	/* What the workload says now. */
	struct kubectl diag = *k;
	diag.deadline_ms = clock_mono_ms() + 15000;
	const char *gargs[] = { "get", target.s, "-n", ns, "-o", "json", NULL };
	struct kubectl_out g = KUBECTL_OUT_INIT;
	json_t *obj = NULL;
	struct buf err = BUF_INIT;
	if (kubectl_run(&diag, gargs, false, &g) == 0 && g.status == 0) {
		json_t *objs = k8s_objects(g.out.s, &err);
		if (objs && json_array_size(objs) == 1)
			obj = json_incref(json_array_get(objs, 0));
		json_decref(objs);
	}
	buf_release(&err);
	if (deadline || (!timeout && obj)) {
		/* The Progressing condition names the stall. */
		const char *cr = NULL;
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c) {
			const char *type = k8s_str(c, "type", NULL), *status = k8s_str(c, "status", NULL);
			if (type && status && !strcmp(type, "Progressing") && !strcmp(status, "False"))
				cr = k8s_str(c, "reason", NULL);
		}
		if (cr)
			buf_addf(reason, ": %s", cr);
		else if (deadline)
			buf_adds(reason, ": exceeded its progress deadline");
		else {
			struct buf line = BUF_INIT;
			kubectl_first_line(o.err.len ? o.err.s : "rollout status failed", &line);
			buf_addf(reason, ": %s", line.s);
			buf_release(&line);
		}
	} else if (timeout) {
		char d[32];
		k8s_duration(left, d, sizeof(d));
		buf_addf(reason, ": not rolled out within %s", d);
		if (obj) {
			buf_adds(reason, " (");
			progress_of(obj, kind, reason);
			buf_addc(reason, ')');
		}
	} else {
		struct buf line = BUF_INIT;
		kubectl_first_line(o.err.len ? o.err.s : "kubectl rollout status failed", &line);
		buf_addf(reason, ": %s", line.s);
		buf_release(&line);
	}
	if (obj)
		pod_reason(&diag, obj, ns, reason);
	json_decref(obj);
	kubectl_out_release(&g);
out:
	kubectl_out_release(&o);
	buf_release(&target);
	buf_release(&to);
	return rc;
}
