#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "k8s/k8s.h"
#include "k8s/kubectl.h"
#include "k8s/record.h"
#include "k8s/workload.h"

/*
 * k8s-rollback: undo, newest first, what the k8s-rolling steps of this
 * workflow changed in this run, each workload back to the revision it had
 * before the run first changed it, then wait for those rollouts.
 */

/* One workload to undo: merged over every record that changed it. */
struct undo {
	struct k8s_workload *w;    /* from the earliest record that changed it */
	int64_t last_change;       /* the latest change, for "newest first" */
	size_t order;              /* ties: the later record first */
	bool waiting;              /* undone (or already back): wait for its rollout */
};

struct records {
	struct k8s_record *v;
	size_t n, cap;
};

static bool wanted_step(const struct k8s_spec *s, const char *step)
{
	size_t i;
	json_t *v;
	json_array_foreach(s->rolling_steps, i, v)
		if (json_is_string(v) && step && !strcmp(json_string_value(v), step))
			return true;
	return false;
}

static int by_start(const void *a, const void *b)
{
	const struct k8s_record *x = a, *y = b;
	if (x->started_at != y->started_at)
		return x->started_at < y->started_at ? -1 : 1;
	if (x->step && y->step && strcmp(x->step, y->step))
		return strcmp(x->step, y->step);
	return x->attempt - y->attempt;
}

static int newest_first(const void *a, const void *b)
{
	const struct undo *x = a, *y = b;
	if (x->last_change != y->last_change)
		return x->last_change > y->last_change ? -1 : 1;
	return x->order > y->order ? -1 : x->order < y->order;
}

/* The k8s-rolling records of this workflow's steps in this run, oldest first. */
static void load_records(const struct k8s_spec *s, struct records *out)
{
	DIR *d = opendir(s->records_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 10 || strcmp(e->d_name + n - 9, ".k8s.json"))
			continue;
		struct buf path = BUF_INIT, err = BUF_INIT;
		buf_addf(&path, "%s/%s", s->records_dir, e->d_name);
		struct k8s_record rec;
		if (k8s_record_load(path.s, &rec, &err) < 0) {
			fprintf(stderr, "lockstep: skipping %s\n", err.s);
		} else if (strcmp(rec.type, "k8s-rolling") || !wanted_step(s, rec.step)) {
			k8s_record_release(&rec);
		} else {
			*VEC_PUSH(*out) = rec;
		}
		buf_release(&path);
		buf_release(&err);
	}
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), by_start);
}

/* kubectl as the record says it was used for `w`. */
static struct kubectl kubectl_for(const struct k8s_spec *s, const struct k8s_workload *w)
{
	struct kubectl k = { .path = s->kubectl, .kubeconfig = w->kubeconfig, .context = w->context,
			     .deadline_ms = s->deadline_ms };
	return k;
}

/* The workload as it is now, or NULL (gone, or kubectl failed: `err` says). */
static json_t *get_now(const struct kubectl *k, const struct k8s_workload *w, struct buf *err)
{
	const char *args[] = { "get", k8s_resource_of(w->kind), w->name, "-n", w->ns,
			       "--ignore-not-found", "-o", "json", NULL };
	struct kubectl_out o = KUBECTL_OUT_INIT;
	json_t *obj = NULL;
	if (kubectl_run(k, args, false, &o) < 0 || o.status != 0) {
		kubectl_first_line(o.err.len ? o.err.s : "kubectl get failed", err);
	} else {
		json_t *objs = k8s_objects(o.out.s, err);
		if (objs && json_array_size(objs) == 1)
			obj = json_incref(json_array_get(objs, 0));
		json_decref(objs);
	}
	kubectl_out_release(&o);
	return obj;
}

/*
 * Did this record's apply change `w`? Known from the record, unless the
 * helper died during the apply ("applying"): then the generation says.
 */
static bool changed(const struct k8s_spec *s, const struct k8s_record *rec, struct k8s_workload *w)
{
	if (strcmp(rec->phase, "applying"))
		return w->changed;
	struct kubectl k = kubectl_for(s, w);
	struct buf err = BUF_INIT;
	json_t *obj = get_now(&k, w, &err);
	bool moved = false;
	if (obj) {
		const char *uid = k8s_str(obj, "metadata", "uid", NULL);
		moved = k8s_int(obj, "metadata", "generation", NULL) != w->generation ||
			(uid && w->uid && strcmp(uid, w->uid));
		if (moved)
			w->changed_at = rec->started_at;
	}
	json_decref(obj);
	buf_release(&err);
	return moved;
}

static void note(struct k8s_record *res, const struct k8s_workload *w, const char *outcome,
		 const char *why, long long target)
{
	struct k8s_workload *x = k8s_record_add(res);
	k8s_set(&x->kind, w->kind);
	k8s_set(&x->ns, w->ns);
	k8s_set(&x->name, w->name);
	k8s_set(&x->uid, w->uid);
	k8s_set(&x->context, w->context);
	k8s_set(&x->kubeconfig, w->kubeconfig);
	x->existed = w->existed;
	x->revision = target;
	k8s_set(&x->revision_name, w->revision_name);
	x->changed_at = w->changed_at;
	k8s_set(&x->outcome, outcome);
	k8s_set(&x->note, why);
}

/*
 * Undoes one workload: back to the revision recorded before the run
 * changed it, found by the ReplicaSet or ControllerRevision that held it
 * (a rollback renumbers that revision, so the number alone could be
 * stale). Returns 1 when a rollout is under way (or it is back already),
 * 0 when there is nothing to undo, -1 on failure (`why` says).
 */
static int undo_one(const struct k8s_spec *s, struct undo *u, long long *target, struct buf *why)
{
	struct k8s_workload *w = u->w;
	struct kubectl k = kubectl_for(s, w);
	struct buf desc = BUF_INIT;
	k8s_describe(w->kind, w->ns, w->name, &desc);
	int rc = -1;
	*target = w->revision;
	if (!w->existed) {
		k8s_say("%s was created by this run: there is no earlier revision to go back to; left as it is",
			desc.s);
		buf_adds(why, "created by this run; left as it is");
		rc = 0;
		goto out;
	}
	struct buf err = BUF_INIT;
	json_t *obj = get_now(&k, w, &err);
	if (!obj) {
		if (err.len) {
			buf_addf(why, "cannot read it: %s", err.s);
		} else {
			k8s_say("%s no longer exists: nothing to roll back", desc.s);
			buf_adds(why, "no longer exists");
			rc = 0;
		}
		buf_release(&err);
		goto out;
	}
	buf_release(&err);
	const char *uid = k8s_str(obj, "metadata", "uid", NULL);
	if (uid && w->uid && strcmp(uid, w->uid)) {
		buf_adds(why, "it was deleted and created again since the run changed it; not rolled back");
		json_decref(obj);
		goto out;
	}
	long long cur = 0, to = 0;
	char *cur_name = NULL;
	if (k8s_current_revision(&k, obj, &cur, &cur_name, why) < 0)
		goto out_obj;
	if (w->revision_name) {
		if (k8s_revision_number(&k, w->kind, w->ns, w->uid, w->revision_name, &to, why) < 0) {
			free(cur_name);
			goto out_obj;
		}
	} else {
		to = w->revision;
	}
	*target = to;
	if (!to) {
		buf_addf(why, "revision %lld (%s) is no longer in its history", w->revision,
			 w->revision_name ? w->revision_name : "unknown");
		free(cur_name);
		goto out_obj;
	}
	bool back = w->revision_name && cur_name && !strcmp(cur_name, w->revision_name);
	free(cur_name);
	if (back) {
		k8s_say("%s is back at its revision from before the run already (revision %lld)", desc.s,
			to);
		rc = 1;
		goto forced;
	}
	if (to == w->revision)
		k8s_say("rolling back %s to revision %lld, its revision before the run changed it", desc.s,
			to);
	else
		k8s_say("rolling back %s to revision %lld (numbered %lld before the run changed it)",
			desc.s, to, w->revision);
	struct buf rev = BUF_INIT;
	buf_addf(&rev, "--to-revision=%lld", to);
	const char *args[] = { "rollout", "undo", desc.s, "-n", w->ns, rev.s, NULL };
	/* "deployment/web in shop": kubectl wants "deployment/web" */
	char *target_arg = xstrndup(desc.s, strcspn(desc.s, " "));
	args[2] = target_arg;
	struct kubectl_out o = KUBECTL_OUT_INIT;
	if (kubectl_run(&k, args, true, &o) < 0 || o.status != 0) {
		struct buf line = BUF_INIT;
		kubectl_first_line(o.err.len ? o.err.s : "kubectl rollout undo failed", &line);
		buf_addf(why, "rollout undo failed: %s", line.s);
		buf_release(&line);
	} else {
		rc = 1;
	}
	kubectl_out_release(&o);
	free(target_arg);
	buf_release(&rev);
forced:
	/* Pods stuck on the revision being undone keep a StatefulSet from rolling back. */
	if (rc == 1 && !strcmp(w->kind, "StatefulSet") &&
	    k8s_delete_stuck_pods(&k, obj, w->revision_name, why) < 0)
		rc = -1;
out_obj:
	json_decref(obj);
out:
	buf_release(&desc);
	return rc;
}

int k8s_rollback(const struct k8s_spec *s)
{
	struct k8s_record res = K8S_RECORD_INIT;
	res.type = xstrdup("k8s-rollback");
	res.workflow = xstrdup(s->workflow);
	res.step = xstrdup(s->step);
	res.attempt = s->attempt;
	res.phase = xstrdup("undoing");
	res.started_at = clock_wall_ms();
	struct records recs = { 0 };
	load_records(s, &recs);

	/* Each changed workload once: its earliest record has the revision to go back to. */
	VEC(struct undo) todo = { 0 };
	size_t order = 0;
	for (size_t r = 0; r < recs.n; r++) {
		struct k8s_record *rec = &recs.v[r];
		for (size_t i = 0; i < rec->workloads.n; i++) {
			struct k8s_workload *w = &rec->workloads.v[i];
			order++;
			if (!w->kind || !w->ns || !w->name || !changed(s, rec, w))
				continue;
			struct undo *u = NULL;
			for (size_t j = 0; j < todo.n && !u; j++) {
				const struct k8s_workload *x = todo.v[j].w;
				if (!strcmp(x->kind, w->kind) && !strcmp(x->ns, w->ns) &&
				    !strcmp(x->name, w->name) &&
				    !strcmp(x->context ? x->context : "", w->context ? w->context : ""))
					u = &todo.v[j];
			}
			if (!u) {
				u = VEC_PUSH(todo);
				u->w = w;
			}
			if (w->changed_at >= u->last_change) {
				u->last_change = w->changed_at;
				u->order = order;
			}
		}
	}
	if (todo.n)
		qsort(todo.v, todo.n, sizeof(*todo.v), newest_first);
	char d[32];
	k8s_duration(s->timeout_ms, d, sizeof(d));
	if (!todo.n) {
		k8s_say("nothing to roll back: no k8s-rolling step of %s changed a Deployment, StatefulSet or DaemonSet in this run",
			s->workflow);
	} else {
		struct buf list = BUF_INIT;
		for (size_t i = 0; i < todo.n; i++) {
			buf_adds(&list, i ? ", " : "");
			k8s_describe(todo.v[i].w->kind, todo.v[i].w->ns, todo.v[i].w->name, &list);
		}
		k8s_say("k8s-rollback: %zu workload%s to roll back, newest first, within %s%s: %s", todo.n,
			todo.n == 1 ? "" : "s", d,
			s->timeout_default ? " (the default; the step has no timeout)" : "", list.s);
		buf_release(&list);
	}

	struct buf first = BUF_INIT;
	size_t failures = 0;
	struct buf why = BUF_INIT, desc = BUF_INIT;
	for (size_t i = 0; i < todo.n; i++) {
		struct undo *u = &todo.v[i];
		buf_reset(&why);
		long long target = 0;
		int r = undo_one(s, u, &target, &why);
		u->waiting = r > 0;
		note(&res, u->w, r > 0 ? "undone" : r == 0 ? "skipped" : "failed", why.len ? why.s : NULL,
		     target);
		if (r < 0) {
			buf_reset(&desc);
			k8s_describe(u->w->kind, u->w->ns, u->w->name, &desc);
			fprintf(stderr, "lockstep: %s: %s\n", desc.s, why.s);
			if (!failures++)
				buf_addf(&first, "%s: %s", desc.s, why.s);
		}
	}
	struct buf err = BUF_INIT;
	k8s_record_save(&res, s->result, &err);
	for (size_t i = 0; i < todo.n; i++) {
		struct undo *u = &todo.v[i];
		if (!u->waiting)
			continue;
		struct kubectl k = kubectl_for(s, u->w);
		struct buf reason = BUF_INIT;
		if (k8s_wait_rollout(&k, u->w->kind, u->w->ns, u->w->name, &reason) < 0) {
			struct k8s_workload *x = &res.workloads.v[i];
			k8s_set(&x->outcome, "failed");
			k8s_set(&x->note, reason.s);
			if (!failures++)
				buf_adds(&first, reason.s);
		} else {
			buf_reset(&desc);
			k8s_describe(u->w->kind, u->w->ns, u->w->name, &desc);
			k8s_say("rolled back: %s", desc.s);
		}
		buf_release(&reason);
	}
	k8s_set(&res.phase, "done");
	k8s_set(&res.outcome, failures ? "failed" : "succeeded");
	if (failures > 1)
		buf_addf(&first, " (and %zu more)", failures - 1);
	k8s_set(&res.reason, failures ? first.s : NULL);
	buf_reset(&err);
	if (k8s_record_save(&res, s->result, &err) < 0)
		fprintf(stderr, "lockstep: %s\n", err.s);
	if (failures)
		fprintf(stderr, "k8s-rollback failed: %s\n", first.s);
	buf_release(&err);
	buf_release(&why);
	buf_release(&desc);
	buf_release(&first);
	VEC_FREE(todo);
	for (size_t r = 0; r < recs.n; r++)
		k8s_record_release(&recs.v[r]);
	VEC_FREE(recs);
	k8s_record_release(&res);
	return failures ? 1 : 0;
}
