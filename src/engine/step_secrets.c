/*
 * step_secrets: what steps do with secrets (run_internal.h). A secret's
 * value is put into an env value or an http-check header when the step
 * starts, never earlier (the plan keeps ${{ secrets.X }} as written), and
 * everything a step prints passes one mask before it reaches its log file
 * or the run's output callback:
 *
 *   http-check lines ──► step_output ──► mask stream ──► log file
 *                                                    └─► output callback
 *   process output ──► executor: mask stream ──► log file
 *                                            └─► step_output_shown ──► output callback
 *
 * Each stream (stdout, stderr) of a step attempt has its own mask stream,
 * kept with the attempt's log (exec/steplog.h: a process's output may go
 * on after its step ended, from what it left running), which holds back
 * the end of a chunk that could still be the start of a secret;
 * step_output_end (the executor, for a process) lets it go when the step
 * ends and when its output is over.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mask.h"
#include "engine/run_internal.h"
#include "pipeline/expr.h"

void step_secrets_init(struct run *r)
{
	if (!mask_empty(r->opts.mask))
		events_set_mask(r->ev, mask_str, (void *)r->opts.mask);
}

struct secret_refs {
	VEC(struct expr_ref) refs;
};

static int collect_secret_ref(const struct expr_ref *ref, void *arg)
{
	struct secret_refs *c = arg;
	if (ref->root == EXPR_SECRETS)
		*VEC_PUSH(c->refs) = *ref;
	return 0;
}

static const char *secret_value(const struct kvlist *secrets, const struct expr_ref *ref)
{
	for (size_t i = 0; i < secrets->n; i++) {
		const char *k = secrets->v[i].key;
		if (strlen(k) == ref->keylen && !memcmp(k, ref->key, ref->keylen))
			return secrets->v[i].val;
	}
	return NULL;
}

/*
 * `s` with each ${{ secrets.X }} the run has a value for replaced, in one
 * pass: a value is never scanned again. A heap string, or NULL when
 * nothing was replaced.
 */
static char *subst_secrets(const struct kvlist *secrets, const char *s)
{
	if (!secrets || !expr_has(s))
		return NULL;
	struct secret_refs c = { { 0 } };
	expr_scan(s, collect_secret_ref, &c, NULL, NULL);
	struct buf out = BUF_INIT;
	size_t at = 0;
	bool any = false;
	for (size_t i = 0; i < c.refs.n; i++) {
		const char *v = secret_value(secrets, &c.refs.v[i]);
		if (!v)
			continue; /* not a declared secret's: check would have said so */
		buf_add(&out, s + at, c.refs.v[i].offset - at);
		buf_adds(&out, v);
		at = c.refs.v[i].offset + c.refs.v[i].length;
		any = true;
	}
	VEC_FREE(c.refs);
	if (!any) {
		buf_release(&out);
		return NULL;
	}
	buf_adds(&out, s + at);
	return buf_detach(&out, NULL);
}

char *run_subst_env(const struct run *r, const char *s)
{
	if (!s)
		return NULL;
	/* The run id first: a secret's value may hold anything, "${{ run.id }}" too. */
	char *with_id = run_subst_run_id(s, r->opts.run_id);
	char *with_secrets = subst_secrets(r->opts.secrets, with_id ? with_id : s);
	if (!with_secrets)
		return with_id;
	free(with_id);
	return with_secrets;
}

void step_output_shown(struct run *r, const struct step_log *l, enum run_stream s, const char *data,
		       size_t len)
{
	if (len && r->opts.output)
		r->opts.output(l->workflow, l->step, s, data, len, r->opts.output_arg);
}

void step_output(struct run *r, struct step_log *l, enum run_stream s, const char *data, size_t len)
{
	struct buf out = BUF_INIT;
	steplog_feed(&l->f, s == RUN_STDERR ? 2 : 1, data, len, &out);
	step_output_shown(r, l, s, out.s, out.len);
	buf_release(&out);
}

void step_output_end(struct run *r, struct step_log *l)
{
	struct buf out = BUF_INIT;
	steplog_flush(&l->f, 1, &out);
	step_output_shown(r, l, RUN_STDOUT, out.s, out.len);
	buf_reset(&out);
	steplog_flush(&l->f, 2, &out);
	step_output_shown(r, l, RUN_STDERR, out.s, out.len);
	buf_release(&out);
}
