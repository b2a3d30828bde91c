#include "pipeline/resources.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsio.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "pipeline/expr.h"
#include "pipeline/manifests.h"

/* What one manifest entry resolved to, once per plan. */
struct entry {
	struct manifest_list files;
	char *error;               /* NULL: resolved */
};

/* One manifest file's text, read once per plan. */
struct text {
	char *data;                /* NULL: could not be read (reported once) */
	size_t len;
	char *error;
};

struct rchecker {
	struct plan *plan;
	struct diag *d;
	const char *file;          /* the pipeline file, for diagnostics */
	const char *base_dir;
	char *shown_prefix;        /* the pipeline file's directory as given, or NULL */
	size_t errors;
	struct map entries;        /* entry -> index into ev */
	VEC(struct entry) ev;
	VEC(char *) entry_keys;
	struct map texts;          /* path -> index into tv */
	VEC(struct text) tv;
	VEC(char *) text_keys;
};

char *pipeline_base_dir(const char *file)
{
	char abs[PATH_MAX];
	if (strcmp(file, "-") != 0 && realpath(file, abs)) {
		char *slash = strrchr(abs, '/');
		if (slash && slash != abs)
			*slash = '\0';
		else if (slash)
			slash[1] = '\0';
		return xstrdup(abs);
	}
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrdup(".");
	char *r = xstrdup(cwd);
	free(cwd);
	return r;
}

/* How a manifest is named in a diagnostic: as the user would reach it. */
static void shown_path(const struct rchecker *R, const char *shown, struct buf *out)
{
	if (R->shown_prefix && shown[0] != '/')
		buf_addf(out, "%s/", R->shown_prefix);
	buf_adds(out, shown);
}

static const struct entry *resolve_entry(struct rchecker *R, const char *e)
{
	size_t i;
	if (map_find(&R->entries, e, &i))
		return &R->ev.v[i];
	struct entry *en = VEC_PUSH(R->ev);
	struct buf err = BUF_INIT;
	if (manifests_resolve(R->base_dir, e, &en->files, &err) < 0)
		en->error = buf_detach(&err, NULL);
	buf_release(&err);
	char *key = xstrdup(e);
	*VEC_PUSH(R->entry_keys) = key;
	map_add(&R->entries, key, R->ev.n - 1, NULL);
	return en;
}

static const struct text *read_text(struct rchecker *R, const struct manifest_file *f)
{
	size_t i;
	if (map_find(&R->texts, f->path, &i))
		return &R->tv.v[i];
	struct text *t = VEC_PUSH(R->tv);
	int r = fsio_read_file(f->path, K8S_MAX_MANIFEST_BYTES, &t->data, &t->len);
	if (r < 0) {
		struct buf e = BUF_INIT;
		if (r == -EFBIG)
			buf_addf(&e, "manifest '%s' is larger than %u MiB", f->shown,
				 K8S_MAX_MANIFEST_BYTES >> 20);
		else
			buf_addf(&e, "cannot read manifest '%s': %s", f->shown, strerror(-r));
		t->error = buf_detach(&e, NULL);
		t->data = NULL;
	} else if (memchr(t->data, '\0', t->len)) {
		struct buf e = BUF_INIT;
		buf_addf(&e, "manifest '%s' contains a NUL byte: it is not a YAML or JSON file", f->shown);
		t->error = buf_detach(&e, NULL);
		free(t->data);
		t->data = NULL;
	}
	char *key = xstrdup(f->path);
	*VEC_PUSH(R->text_keys) = key;
	map_add(&R->texts, key, R->tv.n - 1, NULL);
	return t;
}

struct ref_check {
	struct rchecker *R;
	const struct text *t;
	const char *shown;
	const struct expr_scope *scope;
	const struct plan_step *ps;
	const struct plan_workflow *pw;
};

/* Each reference of a manifest must name what the instance defines. */
static int check_ref(const struct expr_ref *ref, void *arg)
{
	struct ref_check *c = arg;
	if (ref->root == EXPR_SECRETS) {
		/* Said once for all instances: the message names none. */
		struct pos p = manifest_text_pos(c->t->data, c->t->len, ref->offset);
		diag_add(c->R->d, DIAG_ERROR, c->shown, p.line, p.col,
			 "${{ secrets.%.*s }} is not allowed in manifests: a rendered manifest is written to "
			 "the logs directory; create the Kubernetes Secret from a run step that gets the "
			 "value through env:",
			 (int)ref->keylen, ref->key);
		c->R->errors++;
		return 0;
	}
	char *one = xstrndup(c->t->data + ref->offset, ref->length);
	struct arena a = ARENA_INIT;
	struct buf err = BUF_INIT;
	size_t off = 0;
	if (!expr_eval(one, c->scope, &a, &err, &off)) {
		struct pos p = manifest_text_pos(c->t->data, c->t->len, ref->offset);
		diag_add(c->R->d, DIAG_ERROR, c->shown, p.line, p.col,
			 "%s in this manifest of step '%s' of workflow %s", err.s, c->ps->id,
			 c->pw->name);
		c->R->errors++;
	}
	buf_release(&err);
	arena_release(&a);
	free(one);
	return 0;
}

static void check_text(struct rchecker *R, const struct manifest_file *f, const struct text *t,
		       const struct plan_workflow *pw, const struct plan_step *ps)
{
	if (!expr_has(t->data))
		return;
	const struct plan *plan = R->plan;
	struct expr_scope scope = {
		.vars = &plan->vars,
		.inputs = &pw->inputs,
		.matrix = &pw->matrix,
		.pipeline_name = plan->pipeline->name,
		.workflow_name = pw->name,
		.run_id = NULL, /* known when the run starts: kept */
	};
	struct buf shown = BUF_INIT;
	shown_path(R, f->shown, &shown);
	struct ref_check c = { R, t, shown.s, &scope, ps, pw };
	struct buf err = BUF_INIT;
	size_t off = 0;
	if (expr_scan(t->data, check_ref, &c, &err, &off) < 0) {
		struct pos p = manifest_text_pos(t->data, t->len, off);
		diag_add(R->d, DIAG_ERROR, shown.s, p.line, p.col, "%s in this manifest", err.s);
		R->errors++;
	}
	buf_release(&err);
	buf_release(&shown);
}

static void check_step(struct rchecker *R, const struct plan_workflow *pw, const struct plan_step *ps)
{
	const struct k8s_rolling *k = ps->src->k8s;
	const struct plan_k8s *pk = ps->k8s;
	size_t total = 0;
	for (size_t i = 0; i < pk->nmanifests; i++) {
		struct pos at = k->manifest_pos[i];
		bool built = pk->manifests[i] != k->manifests[i];
		const struct entry *en = resolve_entry(R, pk->manifests[i]);
		if (en->error) {
			if (built)
				diag_add(R->d, DIAG_ERROR, R->file, at.line, at.col,
					 "%s (from '%s', in workflow %s)", en->error, k->manifests[i],
					 pw->name);
			else
				diag_add(R->d, DIAG_ERROR, R->file, at.line, at.col, "%s", en->error);
			R->errors++;
			continue;
		}
		total += en->files.files.n;
		for (size_t f = 0; f < en->files.files.n; f++) {
			const struct manifest_file *mf = &en->files.files.v[f];
			const struct text *t = read_text(R, mf);
			if (t->error) {
				diag_add(R->d, DIAG_ERROR, R->file, at.line, at.col, "%s", t->error);
				R->errors++;
				continue;
			}
			check_text(R, mf, t, pw, ps);
		}
	}
	if (total > K8S_MAX_MANIFESTS) {
		diag_add(R->d, DIAG_ERROR, R->file, ps->src->kind_pos.line, ps->src->kind_pos.col,
			 "step '%s' of workflow %s applies %zu manifest files; at most %d", ps->id,
			 pw->name, total, K8S_MAX_MANIFESTS);
		R->errors++;
	}
}

/*
 * The Kubernetes step that comes first in the file, or NULL; a written one
 * before a default rollback (which has its workflow's position).
 */
static const struct plan_step *first_k8s_step(const struct plan *plan)
{
	const struct plan_step *first = NULL;
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *pw = &plan->workflows[w];
		for (int list = 0; list < 2; list++) {
			const struct plan_step *v = list ? pw->rollback : pw->steps;
			size_t n = list ? pw->nrollback : pw->nsteps;
			for (size_t s = 0; s < n; s++) {
				enum step_kind k = v[s].src->kind;
				if (k != STEP_K8S_ROLLING && k != STEP_K8S_ROLLBACK)
					continue;
				struct pos p = v[s].src->pos;
				bool better = !first || (first->src->implicit && !v[s].src->implicit);
				if (first && first->src->implicit == v[s].src->implicit)
					better = p.line < first->src->pos.line ||
						 (p.line == first->src->pos.line &&
						  p.col < first->src->pos.col);
				if (better)
					first = &v[s];
			}
		}
	}
	return first;
}

static void check_kubectl(struct rchecker *R, const struct plan_step *at, const char *given)
{
	struct buf path = BUF_INIT;
	int r = fsio_find_program(given ? given : "kubectl", &path);
	struct pos p = at->src->pos;
	if (r == 0) {
		R->plan->kubectl = arena_strdup(&R->plan->arena, path.s);
	} else if (!given) {
		diag_add(R->d, DIAG_ERROR, R->file, p.line, p.col,
			 "kubectl not found on PATH: the Kubernetes steps of this pipeline run it (install kubectl, or give its path with --kubectl PATH)");
		R->errors++;
	} else {
		diag_add(R->d, DIAG_ERROR, R->file, p.line, p.col,
			 "--kubectl '%s' %s: the Kubernetes steps of this pipeline run it", given,
			 r == -EACCES ? "is not an executable file" : "does not exist");
		R->errors++;
	}
	buf_release(&path);
}

size_t plan_check_resources(struct plan *plan, const struct resource_opts *o, struct diag *d)
{
	const struct plan_step *first = first_k8s_step(plan);
	if (!first)
		return 0;
	struct rchecker R = { .plan = plan, .d = d, .file = plan->pipeline->file,
			      .entries = MAP_INIT, .texts = MAP_INIT };
	char *base = o && o->base_dir ? xstrdup(o->base_dir) : pipeline_base_dir(R.file);
	R.base_dir = base;
	const char *slash = strrchr(R.file, '/');
	if (slash && strcmp(R.file, "-"))
		R.shown_prefix = xstrndup(R.file, slash == R.file ? 1 : (size_t)(slash - R.file));
	check_kubectl(&R, first, o ? o->kubectl : NULL);
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *pw = &plan->workflows[w];
		for (int list = 0; list < 2; list++) {
			const struct plan_step *v = list ? pw->rollback : pw->steps;
			size_t n = list ? pw->nrollback : pw->nsteps;
			for (size_t s = 0; s < n; s++)
				if (v[s].src->kind == STEP_K8S_ROLLING && v[s].k8s)
					check_step(&R, pw, &v[s]);
		}
	}
	for (size_t i = 0; i < R.ev.n; i++) {
		manifest_list_release(&R.ev.v[i].files);
		free(R.ev.v[i].error);
		free(R.entry_keys.v[i]);
	}
	for (size_t i = 0; i < R.tv.n; i++) {
		free(R.tv.v[i].data);
		free(R.tv.v[i].error);
		free(R.text_keys.v[i]);
	}
	VEC_FREE(R.ev);
	VEC_FREE(R.entry_keys);
	VEC_FREE(R.tv);
	VEC_FREE(R.text_keys);
	map_release(&R.entries);
	map_release(&R.texts);
	free(R.shown_prefix);
	free(base);
	return R.errors;
}
