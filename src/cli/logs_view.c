#include "cli/logs_view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/duration.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "engine/run.h"
#include "events/logpath.h"
#include "store/store.h"

/* Start order: step.started's seq; workflow, step and attempt break ties. */
static int attempt_cmp(const void *a, const void *b)
{
	const struct logs_attempt *x = a, *y = b;
	if (x->att->seq != y->att->seq)
		return x->att->seq < y->att->seq ? -1 : 1;
	if (x->wf != y->wf)
		return x->wf < y->wf ? -1 : 1;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return (x->att->attempt > y->att->attempt) - (x->att->attempt < y->att->attempt);
}

size_t logs_attempts(const struct run_view *v, const struct view_workflow *wf, const struct view_step *step,
		     struct logs_attempt **out)
{
	VEC(struct logs_attempt) all = { 0 };
	for (size_t i = 0; i < v->nwfs; i++) {
		const struct view_workflow *w = &v->wfs[i];
		if (wf && w != wf)
			continue;
		for (size_t k = 0; k < w->nsteps; k++) {
			const struct view_step *s = &w->steps[k];
			if (step && s != step)
				continue;
			/* Only run, http-check and Kubernetes steps write
			 * logs; a barrier or wait step has no output. */
			if (!step && !logs_kind_has_log(s->kind))
				continue;
			for (size_t a = 0; a < s->natt; a++)
				*VEC_PUSH(all) = (struct logs_attempt){ w, s, &s->att[a] };
		}
	}
	if (all.n) /* all.v is NULL otherwise, which qsort must not get */
		qsort(all.v, all.n, sizeof(*all.v), attempt_cmp);
	*out = all.v;
	return all.n;
}

void logs_attempt_header(const struct logs_attempt *x, FILE *out)
{
	fprintf(out, "==> %s/%s attempt %d", x->wf->name, x->step->id, x->att->attempt);
	if (x->step->rollback)
		fputs(" (rollback)", out);
	if (x->att->finished) {
		char d[32];
		duration_format_elapsed(x->att->duration_ms, d, sizeof(d));
		fprintf(out, ": %s", x->att->status);
		if (x->att->has_exit_code)
			fprintf(out, ", exit %d", x->att->exit_code);
		fprintf(out, ", %s", d);
	} else {
		fputs(": running", out);
	}
	fputs(" <==\n", out);
}

void logs_attempt_footer(const struct logs_attempt *x, bool found, int last, const char *path, FILE *out)
{
	if (!found && !logs_kind_has_log(x->step->kind))
		fputs("(a barrier or wait step: no output)\n", out);
	else if (!found)
		fprintf(out, "(no log file: %s)\n", path);
	else if (last >= 0 && last != '\n')
		fputc('\n', out);
}

bool logs_kind_has_log(const char *kind)
{
	enum step_kind k;
	return step_kind_parse(kind, &k) && step_kind_writes_log(k);
}

/* ---- selections ---- */

/*
 * True when matrix instance name `inst` ("test[env=qa,java=17]") is an
 * instance of `sel`: a workflow name ("test") or an instance name that
 * gives some of the matrix values, in any order ("test[env=qa]"). Names
 * and values cannot hold '[', ']', ',' or '=' (docs/pipeline-format.md).
 */
static bool instance_of(const char *inst, const char *sel)
{
	const char *ib = strchr(inst, '['), *sb = strchr(sel, '[');
	size_t ilen = ib ? (size_t)(ib - inst) : strlen(inst), slen = sb ? (size_t)(sb - sel) : strlen(sel);
	if (!ib || ilen != slen || strncmp(inst, sel, ilen))
		return false;
	if (!sb)
		return true;
	size_t send = strlen(sel);
	if (send < 2 || sel[send - 1] != ']')
		return false;
	/* Each KEY=VALUE of `sel` is one of `inst`'s. */
	const char *p = sb + 1, *end = sel + send - 1;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		bool found = false;
		for (const char *q = ib + 1; *q && *q != ']';) {
			size_t m = strcspn(q, ",]");
			if (m == n && !strncmp(q, p, n))
				found = true;
			q += m + (q[m] == ',');
		}
		if (!n || !found)
			return false;
		p += n + 1;
	}
	return true;
}

/* Instances listed in a "did you mean", at most. */
#define SUGGEST_INSTANCES 5

/*
 * A selection that names a matrix workflow, or some of an instance's
 * values (`test[env=qa]` for `test[env=qa,java=17]`), is answered with
 * the instances it fits, each followed by `step` ("/STEP" or ""). Returns
 * false when it fits none.
 */
static bool suggest_instances(const struct run_view *v, const char *select, const char *step, struct buf *err)
{
	size_t n = 0;
	const char *first = NULL;
	for (size_t i = 0; i < v->nwfs; i++) {
		if (!instance_of(v->wfs[i].name, select))
			continue;
		if (!n++)
			first = v->wfs[i].name;
	}
	if (n == 1) {
		buf_addf(err, "; did you mean '%s%s'?", first, step);
		return true;
	}
	if (!n)
		return false;
	buf_addf(err, "; it fits %zu instances: ", n);
	size_t k = 0;
	for (size_t i = 0; i < v->nwfs && k < SUGGEST_INSTANCES; i++)
		if (instance_of(v->wfs[i].name, select))
			buf_addf(err, "%s'%s%s'", k++ ? ", " : "", v->wfs[i].name, step);
	if (n > k)
		buf_addf(err, " and %zu more", n - k);
	return true;
}

int logs_select(const struct run_view *v, uint64_t run, const char *select, const struct view_workflow **wf,
		const struct view_step **step, struct buf *err)
{
	*wf = NULL;
	*step = NULL;
	if (!select)
		return 0;
	if ((*wf = view_find_workflow(v, select)))
		return 0;
	const char *slash = strrchr(select, '/');
	if (slash) {
		char *name = xstrndup(select, (size_t)(slash - select));
		*wf = view_find_workflow(v, name);
		free(name);
		if (*wf) {
			if ((*step = view_find_step(*wf, slash + 1)))
				return 0;
			buf_addf(err, "workflow %s of run %llu has no step '%s'", (*wf)->name,
				 (unsigned long long)run, slash + 1);
			const char **ids = xcalloc((*wf)->nsteps + 1, sizeof(char *));
			for (size_t k = 0; k < (*wf)->nsteps; k++)
				ids[k] = (*wf)->steps[k].id;
			const char *s = suggest_closest(slash + 1, ids, (*wf)->nsteps);
			free(ids);
			if (s)
				buf_addf(err, "; did you mean '%s'?", s);
			return STORE_ENOTFOUND;
		}
	}
	buf_addf(err, "run %llu has no workflow '%.*s'", (unsigned long long)run,
		 slash ? (int)(slash - select) : (int)strlen(select), select);
	char *wfpart = xstrndup(select, slash ? (size_t)(slash - select) : strlen(select));
	bool told = suggest_instances(v, wfpart, slash ? slash : "", err) ||
		    (slash && suggest_instances(v, select, "", err));
	free(wfpart);
	if (told)
		return STORE_ENOTFOUND;
	const char **names = xcalloc(v->nwfs + 1, sizeof(char *));
	for (size_t i = 0; i < v->nwfs; i++)
		names[i] = v->wfs[i].name;
	const char *s = suggest_closest(select, names, v->nwfs);
	free(names);
	if (s)
		buf_addf(err, "; did you mean '%s'?", s);
	return STORE_ENOTFOUND;
}

/* ---- printing ---- */

/* Copies the file at `path` to `out`; returns the last byte written, or -1. */
static int copy_file(const char *path, FILE *out, bool *found)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*found = fd >= 0;
	if (fd < 0)
		return -1;
	char buf[65536];
	int last = -1;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, out);
		last = (unsigned char)buf[n - 1];
	}
	close(fd);
	return last;
}

int logs_print(const struct run_view *v, uint64_t run, const char *run_dir, const char *select, FILE *out,
	       struct buf *err)
{
	const struct view_workflow *swf;
	const struct view_step *sstep;
	int ret = logs_select(v, run, select, &swf, &sstep, err);
	if (ret < 0)
		return ret;
	struct logs_attempt *refs;
	size_t n = logs_attempts(v, swf, sstep, &refs);
	struct buf path = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const struct logs_attempt *x = &refs[i];
		logs_attempt_header(x, out);
		buf_reset(&path);
		logpath_attempt(run_dir, x->wf->name, x->step->id, x->att->attempt, &path);
		bool found;
		int last = copy_file(path.s, out, &found);
		logs_attempt_footer(x, found, last, path.s, out);
	}
	if (!n && sstep)
		fprintf(out, "(%s/%s has not started)\n", swf->name, sstep->id);
	buf_release(&path);
	free(refs);
	return 0;
}
