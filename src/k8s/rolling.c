#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "k8s/k8s.h"
#include "k8s/kubectl.h"
#include "k8s/record.h"
#include "k8s/workload.h"
#include "pipeline/expr.h"
#include "pipeline/manifests.h"

/* k8s-rolling: apply the manifests, record what changed, wait for the rollouts. */

struct rolling {
	const struct k8s_spec *s;
	struct kubectl k;
	struct k8s_record rec;
	char *context;             /* the context kubectl uses, for the record */
	char *kubeconfig;          /* $KUBECONFIG, for the record */
	VEC(char *) files;         /* what -f gets: the manifests, or their rendered copies */
	struct buf reason;         /* why the step failed */
};

static void save(struct rolling *R)
{
	struct buf err = BUF_INIT;
	if (k8s_record_save(&R->rec, R->s->result, &err) < 0)
		fprintf(stderr, "lockstep: %s\n", err.s);
	buf_release(&err);
}

/* Ends the step: the record says how, and why. */
static int finish(struct rolling *R, bool ok)
{
	k8s_set(&R->rec.phase, "done");
	k8s_set(&R->rec.outcome, ok ? "succeeded" : "failed");
	k8s_set(&R->rec.reason, ok ? NULL : R->reason.s);
	save(R);
	if (!ok)
		fprintf(stderr, "k8s-rolling failed: %s\n", R->reason.s);
	return ok ? 0 : 1;
}

/* A kvlist from a JSON object of strings (in `a`). */
static void kv_from(json_t *o, struct kvlist *out, struct arena *a)
{
	size_t n = json_is_object(o) ? json_object_size(o) : 0;
	out->v = arena_array(a, n ? n : 1, sizeof(*out->v));
	out->n = 0;
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (!json_is_string(v))
			continue;
		out->v[out->n].key = arena_strdup(a, key);
		out->v[out->n].val = arena_strdup(a, json_string_value(v));
		out->n++;
	}
}

/*
 * The files to apply: each manifest entry resolved (files, directories,
 * globs, from the step's working directory, the pipeline file's), and a
 * file with ${{ }} rendered into the attempt's render directory, so that
 * what was applied can be read afterwards.
 */
static int prepare_files(struct rolling *R)
{
	const struct k8s_spec *s = R->s;
	struct manifest_list list = MANIFEST_LIST_INIT;
	struct buf err = BUF_INIT;
	size_t i;
	json_t *m;
	json_array_foreach(s->manifests, i, m) {
		if (!json_is_string(m))
			continue;
		if (manifests_resolve(NULL, json_string_value(m), &list, &err) < 0) {
			buf_adds(&R->reason, err.s);
			goto fail;
		}
	}
	if (list.files.n > K8S_MAX_MANIFESTS) {
		buf_addf(&R->reason, "%zu manifest files; at most %d", list.files.n, K8S_MAX_MANIFESTS);
		goto fail;
	}
	struct arena a = ARENA_INIT;
	struct kvlist vars, inputs, matrix;
	kv_from(json_object_get(s->scope, "vars"), &vars, &a);
	kv_from(json_object_get(s->scope, "inputs"), &inputs, &a);
	kv_from(json_object_get(s->scope, "matrix"), &matrix, &a);
	struct expr_scope scope = {
		.vars = &vars,
		.inputs = &inputs,
		.matrix = &matrix,
		.pipeline_name = json_string_value(json_object_get(s->scope, "pipeline")),
		.workflow_name = json_string_value(json_object_get(s->scope, "workflow")),
		.run_id = json_string_value(json_object_get(s->scope, "run_id")),
	};
	bool made_dir = false;
	int rc = 0;
	for (i = 0; i < list.files.n && rc == 0; i++) {
		const struct manifest_file *f = &list.files.v[i];
		char *text;
		size_t len;
		int r = fsio_read_file(f->path, K8S_MAX_MANIFEST_BYTES, &text, &len);
		if (r < 0) {
			buf_addf(&R->reason, "cannot read manifest '%s': %s", f->shown,
				 r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
			rc = -1;
			break;
		}
		if (!expr_has(text)) {
			*VEC_PUSH(R->files) = xstrdup(f->path);
			free(text);
			continue;
		}
		buf_reset(&err);
		size_t off = 0;
		const char *out = expr_eval(text, &scope, &a, &err, &off);
		if (!out) {
			struct pos p = manifest_text_pos(text, len, off);
			buf_addf(&R->reason, "manifest '%s' line %d column %d: %s", f->shown, p.line, p.col,
				 err.s);
			free(text);
			rc = -1;
			break;
		}
		if (!made_dir && mkdir(s->render_dir, 0700) < 0 && errno != EEXIST) {
			buf_addf(&R->reason, "cannot create %s: %s", s->render_dir, strerror(errno));
			free(text);
			rc = -1;
			break;
		}
		made_dir = true;
		char *copy = xstrdup(f->shown);
		struct buf path = BUF_INIT;
		buf_addf(&path, "%s/%03zu-%s", s->render_dir, i + 1, basename(copy));
		free(copy);
		r = fsio_write_file(path.s, out, strlen(out));
		if (r < 0) {
			buf_addf(&R->reason, "cannot write %s: %s", path.s, strerror(-r));
			rc = -1;
		} else {
			*VEC_PUSH(R->files) = buf_detach(&path, NULL);
		}
		buf_release(&path);
		free(text);
	}
	arena_release(&a);
	if (rc == 0 && made_dir)
		k8s_say("rendered the manifests with ${{ }} into %s", s->render_dir);
	struct buf names = BUF_INIT;
	for (i = 0; rc == 0 && i < list.files.n; i++)
		buf_addf(&names, "%s%s", i ? ", " : "", list.files.v[i].shown);
	if (rc == 0)
		k8s_say("manifests: %s", names.s);
	buf_release(&names);
	manifest_list_release(&list);
	buf_release(&err);
	return rc;
fail:
	manifest_list_release(&list);
	buf_release(&err);
	return -1;
}

/* `kubectl get -f ... -o json`: the objects of the manifests as they are now. */
static json_t *read_objects(struct rolling *R, struct buf *why)
{
	VEC(const char *) args = { 0 };
	*VEC_PUSH(args) = "get";
	for (size_t i = 0; i < R->files.n; i++) {
		*VEC_PUSH(args) = "-f";
		*VEC_PUSH(args) = R->files.v[i];
	}
	if (R->s->ns) {
		*VEC_PUSH(args) = "-n";
		*VEC_PUSH(args) = R->s->ns;
	}
	*VEC_PUSH(args) = "--ignore-not-found";
	*VEC_PUSH(args) = "-o";
	*VEC_PUSH(args) = "json";
	*VEC_PUSH(args) = NULL;
	struct kubectl_out o = KUBECTL_OUT_INIT;
	json_t *objs = NULL;
	if (kubectl_run(&R->k, args.v, false, &o) < 0 || o.status != 0) {
		struct buf line = BUF_INIT;
		kubectl_first_line(o.err.len ? o.err.s : "kubectl get failed", &line);
		buf_addf(why, "cannot read the manifests' objects: %s", line.s);
		buf_release(&line);
	} else {
		objs = k8s_objects(o.out.s, why);
	}
	kubectl_out_release(&o);
	VEC_FREE(args);
	return objs;
}

static struct k8s_workload *find(struct k8s_record *rec, const char *kind, const char *ns,
				 const char *name)
{
	for (size_t i = 0; i < rec->workloads.n; i++) {
		struct k8s_workload *w = &rec->workloads.v[i];
		if (w->kind && w->ns && w->name && !strcmp(w->kind, kind) && !strcmp(w->ns, ns) &&
		    !strcmp(w->name, name))
			return w;
	}
	return NULL;
}

/* The workloads of the manifests before the apply, with their revisions. */
static int read_before(struct rolling *R)
{
	json_t *objs = read_objects(R, &R->reason);
	if (!objs)
		return -1;
	size_t i;
	json_t *o;
	int rc = 0;
	json_array_foreach(objs, i, o) {
		const char *kind = k8s_workload_kind(o);
		const char *ns = k8s_str(o, "metadata", "namespace", NULL);
		const char *name = k8s_str(o, "metadata", "name", NULL);
		if (!kind || !ns || !name)
			continue;
		struct k8s_workload *w = k8s_record_add(&R->rec);
		k8s_set(&w->kind, kind);
		k8s_set(&w->ns, ns);
		k8s_set(&w->name, name);
		k8s_set(&w->uid, k8s_str(o, "metadata", "uid", NULL));
		k8s_set(&w->context, R->context);
		k8s_set(&w->kubeconfig, R->kubeconfig);
		w->existed = true;
		w->generation = k8s_int(o, "metadata", "generation", NULL);
		if (k8s_current_revision(&R->k, o, &w->revision, &w->revision_name, &R->reason) < 0) {
			rc = -1;
			break;
		}
	}
	json_decref(objs);
	return rc;
}

/* After the apply: which workloads it created or changed (generation moved). */
static int read_after(struct rolling *R, struct buf *why)
{
	json_t *objs = read_objects(R, why);
	if (!objs)
		return -1;
	int64_t now = clock_wall_ms();
	size_t i;
	json_t *o;
	json_array_foreach(objs, i, o) {
		const char *kind = k8s_workload_kind(o);
		const char *ns = k8s_str(o, "metadata", "namespace", NULL);
		const char *name = k8s_str(o, "metadata", "name", NULL);
		const char *uid = k8s_str(o, "metadata", "uid", NULL);
		if (!kind || !ns || !name)
			continue;
		struct k8s_workload *w = find(&R->rec, kind, ns, name);
		if (!w) {
			w = k8s_record_add(&R->rec);
			k8s_set(&w->kind, kind);
			k8s_set(&w->ns, ns);
			k8s_set(&w->name, name);
			k8s_set(&w->context, R->context);
			k8s_set(&w->kubeconfig, R->kubeconfig);
			w->existed = false;
		}
		w->new_generation = k8s_int(o, "metadata", "generation", NULL);
		bool replaced = w->existed && uid && w->uid && strcmp(uid, w->uid);
		w->changed = !w->existed || replaced || w->new_generation != w->generation;
		if (!w->existed || replaced)
			k8s_set(&w->uid, uid);
		if (w->changed)
			w->changed_at = now;
	}
	json_decref(objs);
	return 0;
}

/* kubectl's current context, for the record (NULL when it has none). */
static char *current_context(struct rolling *R)
{
	if (R->s->context)
		return xstrdup(R->s->context);
	const char *args[] = { "config", "current-context", NULL };
	struct kubectl_out o = KUBECTL_OUT_INIT;
	char *ctx = NULL;
	if (kubectl_run(&R->k, args, false, &o) == 0 && o.status == 0) {
		struct buf line = BUF_INIT;
		kubectl_first_line(o.out.s, &line);
		if (line.len)
			ctx = buf_detach(&line, NULL);
		buf_release(&line);
	}
	kubectl_out_release(&o);
	return ctx;
}

static void describe(const struct k8s_workload *w, struct buf *out)
{
	k8s_describe(w->kind, w->ns, w->name, out);
}

/* A workload an earlier attempt of this step changed: still to be waited for. */
struct pending {
	char *kind, *ns, *name;
};

struct pendings {
	struct pending *v;
	size_t n, cap;
};

static void earlier_attempts(struct rolling *R, struct pendings *out)
{
	const struct k8s_spec *s = R->s;
	for (int a = 1; a < s->attempt; a++) {
		struct buf path = BUF_INIT, err = BUF_INIT;
		buf_addf(&path, "%s/%s.%d.k8s.json", s->records_dir, s->step, a);
		struct k8s_record rec;
		if (k8s_record_load(path.s, &rec, &err) == 0) {
			for (size_t i = 0; i < rec.workloads.n; i++) {
				const struct k8s_workload *w = &rec.workloads.v[i];
				if (!w->changed || !w->kind || !w->ns || !w->name)
					continue;
				struct pending *p = VEC_PUSH(*out);
				p->kind = xstrdup(w->kind);
				p->ns = xstrdup(w->ns);
				p->name = xstrdup(w->name);
			}
			k8s_record_release(&rec);
		}
		buf_release(&path);
		buf_release(&err);
	}
}

static int apply(struct rolling *R)
{
	VEC(const char *) args = { 0 };
	*VEC_PUSH(args) = "apply";
	for (size_t i = 0; i < R->files.n; i++) {
		*VEC_PUSH(args) = "-f";
		*VEC_PUSH(args) = R->files.v[i];
	}
	if (R->s->ns) {
		*VEC_PUSH(args) = "-n";
		*VEC_PUSH(args) = R->s->ns;
	}
	*VEC_PUSH(args) = NULL;
	struct kubectl_out o = KUBECTL_OUT_INIT;
	int rc = 0;
	if (kubectl_run(&R->k, args.v, true, &o) < 0 || o.status != 0) {
		struct buf line = BUF_INIT;
		kubectl_first_line(o.err.len ? o.err.s : "it failed", &line);
		buf_addf(&R->reason, "kubectl apply failed: %s", line.s);
		buf_release(&line);
		rc = -1;
	}
	kubectl_out_release(&o);
	VEC_FREE(args);
	return rc;
}

int k8s_rolling(const struct k8s_spec *s)
{
	struct rolling R = { .s = s, .reason = BUF_INIT };
	R.k.path = s->kubectl;
	R.k.context = s->context;
	R.k.deadline_ms = s->deadline_ms;
	R.rec.type = xstrdup("k8s-rolling");
	R.rec.workflow = xstrdup(s->workflow);
	R.rec.step = xstrdup(s->step);
	R.rec.attempt = s->attempt;
	R.rec.phase = xstrdup("applying");
	R.rec.started_at = clock_wall_ms();
	const char *kc = getenv("KUBECONFIG");
	R.kubeconfig = kc && *kc ? xstrdup(kc) : NULL;
	int rc;
	struct buf line = BUF_INIT;
	char d[32];
	k8s_duration(s->timeout_ms, d, sizeof(d));

	if (prepare_files(&R) < 0) {
		rc = finish(&R, false);
		goto out;
	}
	R.context = current_context(&R);
	k8s_say("k8s-rolling: applying to namespace %s, context %s; rollouts must complete within %s%s",
		s->ns ? s->ns : "(the manifests' or the context's)", R.context ? R.context : "(none)", d,
		s->timeout_default ? " (the default; the step has no timeout)" : "");
	/* What the manifests hold now: recorded before anything changes. */
	if (read_before(&R) < 0) {
		rc = finish(&R, false);
		goto out;
	}
	struct buf err = BUF_INIT;
	if (k8s_record_save(&R.rec, s->result, &err) < 0) {
		buf_addf(&R.reason, "cannot record the workloads before changing them: %s", err.s);
		buf_release(&err);
		rc = finish(&R, false);
		goto out;
	}
	buf_release(&err);
	bool applied = apply(&R) == 0;
	struct buf why = BUF_INIT;
	if (read_after(&R, &why) == 0) {
		k8s_set(&R.rec.phase, "applied");
		save(&R);
	} else if (applied) {
		/* The "applying" record stays: a rollback judges it by generation. */
		buf_adds(&R.reason, why.s);
		buf_release(&why);
		rc = finish(&R, false);
		goto out;
	}
	buf_release(&why);
	if (!applied) {
		rc = finish(&R, false);
		goto out;
	}

	/* Say what changed; wait for those, and for what earlier attempts changed. */
	struct pendings wait = { 0 };
	for (size_t i = 0; i < R.rec.workloads.n; i++) {
		struct k8s_workload *w = &R.rec.workloads.v[i];
		buf_reset(&line);
		describe(w, &line);
		if (!w->changed) {
			k8s_say("unchanged: %s (revision %lld)", line.s, w->revision);
			continue;
		}
		if (w->existed)
			k8s_say("changed: %s (revision %lld before; generation %lld -> %lld)", line.s,
				w->revision, w->generation, w->new_generation);
		else
			k8s_say("created: %s", line.s);
		struct pending *p = VEC_PUSH(wait);
		p->kind = xstrdup(w->kind);
		p->ns = xstrdup(w->ns);
		p->name = xstrdup(w->name);
	}
	struct pendings earlier = { 0 };
	earlier_attempts(&R, &earlier);
	for (size_t i = 0; i < earlier.n; i++) {
		bool dup = false;
		for (size_t j = 0; j < wait.n && !dup; j++)
			dup = !strcmp(wait.v[j].kind, earlier.v[i].kind) &&
			      !strcmp(wait.v[j].ns, earlier.v[i].ns) &&
			      !strcmp(wait.v[j].name, earlier.v[i].name);
		if (dup) {
			free(earlier.v[i].kind);
			free(earlier.v[i].ns);
			free(earlier.v[i].name);
			continue;
		}
		buf_reset(&line);
		k8s_describe(earlier.v[i].kind, earlier.v[i].ns, earlier.v[i].name, &line);
		k8s_say("changed by an earlier attempt of this step: %s", line.s);
		*VEC_PUSH(wait) = earlier.v[i];
	}
	VEC_FREE(earlier);
	if (!wait.n)
		k8s_say("nothing to roll out: the manifests changed no Deployment, StatefulSet or DaemonSet");

	bool ok = true;
	for (size_t i = 0; i < wait.n && ok; i++) {
		struct pending *p = &wait.v[i];
		struct k8s_workload *w = find(&R.rec, p->kind, p->ns, p->name);
		buf_reset(&line);
		k8s_describe(p->kind, p->ns, p->name, &line);
		k8s_say("waiting for the rollout of %s", line.s);
		if (k8s_wait_rollout(&R.k, p->kind, p->ns, p->name, &R.reason) < 0) {
			if (w) {
				k8s_set(&w->outcome, "failed");
				k8s_set(&w->note, R.reason.s);
			}
			ok = false;
			break;
		}
		/* The revision it rolled out, for the record and the log. */
		long long rev = 0;
		char *rev_name = NULL;
		const char *gargs[] = { "get", k8s_resource_of(p->kind), p->name, "-n", p->ns, "-o", "json",
					NULL };
		struct kubectl_out o = KUBECTL_OUT_INIT;
		struct buf e = BUF_INIT;
		if (kubectl_run(&R.k, gargs, false, &o) == 0 && o.status == 0) {
			json_t *objs = k8s_objects(o.out.s, &e);
			if (objs && json_array_size(objs) == 1)
				k8s_current_revision(&R.k, json_array_get(objs, 0), &rev, &rev_name, &e);
			json_decref(objs);
		}
		kubectl_out_release(&o);
		buf_release(&e);
		if (w) {
			w->new_revision = rev;
			k8s_set(&w->outcome, "rolled-out");
		}
		free(rev_name);
		k8s_say("rolled out: %s (revision %lld)", line.s, rev);
		save(&R);
	}
	for (size_t i = 0; i < wait.n; i++) {
		free(wait.v[i].kind);
		free(wait.v[i].ns);
		free(wait.v[i].name);
	}
	VEC_FREE(wait);
	rc = finish(&R, ok);
out:
	for (size_t i = 0; i < R.files.n; i++)
		free(R.files.v[i]);
	VEC_FREE(R.files);
	k8s_record_release(&R.rec);
	free(R.context);
	free(R.kubeconfig);
	buf_release(&R.reason);
	buf_release(&line);
	return rc;
}
