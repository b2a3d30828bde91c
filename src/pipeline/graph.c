/*
 * graph: the plan rendered as text, Graphviz dot, mermaid or JSON.
 *
 * Every renderer walks the plan in the plan's own order (groups, workflow
 * instances, steps, barriers), so the output depends on nothing but the
 * plan: no pointers, no clocks, no hash order. Two runs of `lockstep plan`
 * on one file print the same bytes, which is what makes the output
 * diffable in review and testable.
 *
 * Names come from the pipeline file and may hold anything a YAML string
 * can: quotes, backslashes, newlines, brackets. Each format has its own
 * escaper below, and every one of them also replaces bytes that are not
 * valid UTF-8 with U+FFFD. The loader already refuses such files, but a
 * renderer that emits a file Graphviz warns about or jansson refuses would
 * turn a loader bug into a confusing second failure.
 *
 * Group numbers: the text, dot and mermaid forms count groups from 1, as a
 * person reads them ("group 1"); the JSON form counts from 0, like the
 * `group` field of the run events (docs/events.md), because tools join the two.
 */
#include "pipeline/graph.h"

#include <stdio.h>
#include <string.h>

#include "base/duration.h"
#include "pipeline/graph_internal.h"

/* ---- UTF-8 and escaping ---- */

/*
 * Returns the length (1-4) of the valid UTF-8 sequence `p` starts with, or
 * 0 when it starts an invalid one (stray continuation byte, overlong form,
 * surrogate, beyond U+10FFFF, cut short). The check is as strict as
 * jansson's, so whatever passes here json_string() accepts. Reading stops
 * at the terminator, which is never a continuation byte.
 */
size_t gr_utf8_seq(const unsigned char *p)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	size_t n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xf0 && p[1] < 0x90))
		return 0; /* overlong */
	if (c == 0xed && p[1] > 0x9f)
		return 0; /* UTF-16 surrogate */
	if (c == 0xf4 && p[1] > 0x8f)
		return 0; /* beyond U+10FFFF */
	return n;
}

#define REPLACEMENT_CHAR "\xef\xbf\xbd"


/*
 * Appends `s` (NULL reads as "") escaped for `style`:
 *   text     control characters as \n, \t, \xNN, so a name cannot move
 *            the cursor or recolour a terminal
 *   dot      the inside of a double-quoted ID: \" and \\ (a lone backslash
 *            would start a dot escape such as \N or \G), newlines as \n
 *   mermaid  the inside of a "quoted" label: characters mermaid or the
 *            HTML it renders into would read as syntax become entity
 *            codes (#quot; and friends), newlines become <br/>
 */
void gr_put_esc(struct buf *out, const char *s, enum esc style)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		size_t n = gr_utf8_seq(p);
		if (!n) {
			buf_adds(out, REPLACEMENT_CHAR);
			p++;
			continue;
		}
		unsigned char c = *p;
		if (n > 1 || (c >= 0x20 && c != 0x7f)) {
			const char *rep = NULL;
			if (style == ESC_DOT && c == '"')
				rep = "\\\"";
			else if (style == ESC_DOT && c == '\\')
				rep = "\\\\";
			else if (style == ESC_MERMAID && c == '"')
				rep = "#quot;";
			else if (style == ESC_MERMAID && c == '#')
				rep = "#35;";
			else if (style == ESC_MERMAID && c == '&')
				rep = "#amp;";
			else if (style == ESC_MERMAID && c == '<')
				rep = "#lt;";
			else if (style == ESC_MERMAID && c == '>')
				rep = "#gt;";
			else if (style == ESC_MERMAID && c == '`')
				rep = "#96;"; /* a leading backtick starts a markdown label */
			if (rep)
				buf_adds(out, rep);
			else
				buf_add(out, p, n);
			p += n;
			continue;
		}
		/* A control character. */
		if (c == '\n') {
			buf_adds(out, style == ESC_MERMAID ? "<br/>" : "\\n");
		} else if (style == ESC_TEXT) {
			if (c == '\t')
				buf_adds(out, "\\t");
			else
				buf_addf(out, "\\x%02x", c);
		} else if (c != '\r') {
			buf_addc(out, ' ');
		}
		p++;
	}
}

/* Returns `s` when it is valid UTF-8, else a cleaned copy held in `tmp`. */
const char *gr_utf8_clean(const char *s, struct buf *tmp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	while (*p && (n = gr_utf8_seq(p)))
		p += n;
	if (!*p)
		return s;
	buf_reset(tmp);
	for (p = (const unsigned char *)s; *p; p += n ? n : 1) {
		n = gr_utf8_seq(p);
		if (n)
			buf_add(tmp, p, n);
		else
			buf_adds(tmp, REPLACEMENT_CHAR);
	}
	return tmp->s;
}

/* Columns `s` takes on a terminal: one per code point, wide glyphs aside. */
size_t gr_text_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			w++;
	return w;
}

void gr_put_text(struct buf *out, const char *s)
{
	gr_put_esc(out, s, ESC_TEXT);
}

/* Appends ", " unless `b` is empty: for "a, b, c" lists built piecewise. */
void gr_put_sep(struct buf *b, const char *sep)
{
	if (b->len)
		buf_adds(b, sep);
}

void gr_put_pos(struct buf *b, const char *file, struct pos pos)
{
	if (pos.line <= 0)
		return;
	if (file)
		buf_addf(b, "%s:", file);
	buf_addf(b, "%d:%d", pos.line, pos.col);
}

void gr_put_kvlist(struct buf *b, const struct kvlist *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		gr_put_sep(b, ", ");
		buf_addf(b, "%s=%s", kv->v[i].key, kv->v[i].val);
	}
}

void gr_put_duration(struct buf *b, uint64_t ms)
{
	char d[64];
	duration_format(ms, d, sizeof(d));
	buf_adds(b, d);
}

/* "backend (context local, namespace backend)": an environment and where it points. */
void gr_put_environment(struct buf *b, const struct plan_environment *e)
{
	buf_adds(b, e->name);
	const char *keys[] = { "context", "namespace", "kubeconfig" };
	const char *vals[] = { e->kube_context, e->kube_namespace, e->kubeconfig };
	const char *sep = " (";
	for (size_t i = 0; i < 3; i++) {
		if (!vals[i])
			continue;
		buf_addf(b, "%s%s %s", sep, keys[i], vals[i]);
		sep = ", ";
	}
	if (sep[0] == ',')
		buf_addc(b, ')');
}

/* ---- facts shared by the renderers ---- */

const struct pipeline *gr_pl(const struct plan *plan)
{
	return plan->pipeline;
}

bool gr_rollback_all(const struct plan *plan)
{
	return gr_pl(plan)->on_failure == ON_FAILURE_ROLLBACK_ALL;
}

/*
 * The barrier a barrier step crosses: plan.barriers for `steps`,
 * plan.rollback_barriers for `rollback`. barrier_index says which; the id
 * is compared too, and looked up when it does not match, so a plan built
 * by hand with a stale index still renders its real shape.
 */
const struct plan_barrier *gr_step_barrier(const struct plan *plan, const struct plan_step *ps,
					       bool in_rollback)
{
	if (!ps->src || ps->src->kind != STEP_BARRIER || !ps->barrier)
		return NULL;
	const struct plan_barrier *v = in_rollback ? plan->rollback_barriers : plan->barriers;
	size_t n = in_rollback ? plan->nrollback_barriers : plan->nbarriers;
	if (ps->barrier_index < n && v[ps->barrier_index].id &&
	    strcmp(v[ps->barrier_index].id, ps->barrier) == 0)
		return &v[ps->barrier_index];
	for (size_t i = 0; i < n; i++)
		if (v[i].id && strcmp(v[i].id, ps->barrier) == 0)
			return &v[i];
	return NULL;
}

const struct plan_step *gr_use_step(const struct plan *plan, const struct plan_barrier *b,
					const struct plan_barrier_use *u, size_t *nlist)
{
	if (u->wf >= plan->nworkflows)
		return NULL;
	const struct plan_workflow *w = &plan->workflows[u->wf];
	const struct plan_step *list = b->rollback ? w->rollback : w->steps;
	*nlist = b->rollback ? w->nrollback : w->nsteps;
	return u->step < *nlist ? &list[u->step] : NULL;
}

/*
 * "status 200..399, body matching 'ok', every 2s within 1m, request-timeout
 * 10s, header Authorization": header values are left out (they may be
 * credentials; `plan --format json` has them).
 */
static void http_details(const struct plan_step *ps, struct buf *b)
{
	const struct http_check *h = ps->src->http;
	gr_put_sep(b, ", ");
	buf_adds(b, "status ");
	http_status_format(h->status, h->nstatus, b);
	const char *body = ps->http ? ps->http->expect_body : h->expect_body;
	if (body)
		buf_addf(b, ", body matching '%s'", body);
	buf_adds(b, ", every ");
	gr_put_duration(b, h->interval_ms);
	buf_adds(b, " within ");
	gr_put_duration(b, h->within_ms);
	buf_adds(b, ", request-timeout ");
	gr_put_duration(b, h->request_timeout_ms);
	const struct kvlist *hd = ps->http ? &ps->http->headers : &h->headers;
	for (size_t i = 0; i < hd->n; i++)
		buf_addf(b, "%s%s", i ? " " : hd->n == 1 ? ", header " : ", headers ", hd->v[i].key);
}

/* "namespace backend, context local": where a k8s-rolling step deploys. */
static void k8s_details(const struct plan_step *ps, struct buf *b)
{
	const struct plan_k8s *pk = ps->k8s;
	if (pk->kube_namespace) {
		gr_put_sep(b, ", ");
		buf_addf(b, "namespace %s", pk->kube_namespace);
	}
	if (pk->kube_context) {
		gr_put_sep(b, ", ");
		buf_addf(b, "context %s", pk->kube_context);
	}
}

/* "kind, barrier BE, timeout 5m, 2 retries 1s apart, continue on error" */
void gr_step_details(const struct plan_step *ps, bool with_kind, struct buf *b)
{
	const struct step *s = ps->src;
	if (with_kind)
		buf_adds(b, step_kind_name(s->kind));
	/*
	 * What the step does, unless its name already says exactly that (the
	 * derived names "barrier BE" and "wait 30s"): "barrier BE  barrier BE"
	 * reads like a mistake.
	 */
	struct buf what = BUF_INIT;
	if (s->kind == STEP_BARRIER) {
		buf_addf(&what, "barrier %s", ps->barrier ? ps->barrier : "?");
	} else if (s->kind == STEP_WAIT) {
		buf_adds(&what, "wait ");
		gr_put_duration(&what, s->wait_ms);
	} else if (s->kind == STEP_HTTP_CHECK && ps->http) {
		buf_addf(&what, "http-check %s", ps->http->url ? ps->http->url : "?");
	} else if (s->kind == STEP_K8S_ROLLING && ps->k8s) {
		buf_adds(&what, "k8s-rolling");
		for (size_t i = 0; i < ps->k8s->nmanifests; i++)
			buf_addf(&what, "%s%s", i ? ", " : " ", ps->k8s->manifests[i]);
	}
	if (what.len && (!ps->name || strcmp(what.s, ps->name) != 0)) {
		gr_put_sep(b, ", ");
		buf_adds(b, what.s);
	}
	buf_release(&what);
	if (s->kind == STEP_HTTP_CHECK && s->http)
		http_details(ps, b);
	if (s->kind == STEP_K8S_ROLLING && ps->k8s)
		k8s_details(ps, b);
	if (s->kind == STEP_RUN && s->shell == SHELL_BASH) {
		gr_put_sep(b, ", ");
		buf_adds(b, "bash");
	}
	if (ps->dir) {
		gr_put_sep(b, ", ");
		buf_addf(b, "in %s", ps->dir);
	}
	if (s->timeout_ms) {
		gr_put_sep(b, ", ");
		buf_adds(b, "timeout ");
		gr_put_duration(b, s->timeout_ms);
	}
	if (s->retries > 0) {
		gr_put_sep(b, ", ");
		buf_addf(b, "%d %s ", s->retries, s->retries == 1 ? "retry" : "retries");
		gr_put_duration(b, s->retry_delay_ms);
		buf_adds(b, " apart");
	}
	if (s->continue_on_error) {
		gr_put_sep(b, ", ");
		buf_adds(b, "continue on error");
	}
}

/*
 * When a workflow's rollback list runs, for the group whose failure is
 * being explained (`failed_group`) or an earlier one (rolled back only by
 * rollback-all). This is the one place the rollback rules
 * (docs/pipeline-format.md#on-failure-pipeline) are read, so text and
 * JSON cannot disagree:
 *   - a failed workflow rolls back when its on-failure is rollback;
 *     stop fails without rollback; ignore counts as succeeded;
 *   - with pipeline rollback-all, every succeeded workflow of the failed
 *     group and of all earlier groups rolls back too ("all" means the
 *     pipeline ends as it started). A workflow's own on-failure decides
 *     only what its own failure does.
 */

enum rb_when gr_rollback_when(const struct plan *plan, const struct plan_workflow *w,
				  bool failed_group)
{
	bool all = gr_rollback_all(plan);
	if (!w->nrollback)
		return RB_NEVER;
	if (!failed_group)
		return all ? RB_ALWAYS : RB_NEVER;
	switch (w->src->on_failure) {
	case ON_FAILURE_ROLLBACK:
	case ON_FAILURE_ROLLBACK_ALL: return all ? RB_ALWAYS : RB_IF_FAILED;
	case ON_FAILURE_STOP: return all ? RB_IF_SUCCEEDED : RB_NEVER;
	case ON_FAILURE_IGNORE: return all ? RB_ALWAYS : RB_NEVER;
	}
	return RB_NEVER;
}

const char *gr_rb_when_name(enum rb_when when)
{
	switch (when) {
	case RB_IF_FAILED: return "if-failed";
	case RB_IF_SUCCEEDED: return "if-succeeded";
	case RB_ALWAYS: return "always";
	case RB_NEVER: break;
	}
	return "never";
}

/* Why a workflow does not roll back, for RB_NEVER. */
const char *gr_rb_never_reason(const struct plan *plan, const struct plan_workflow *w,
				   bool failed_group)
{
	if (!w->nrollback)
		return "no rollback steps";
	if (!failed_group && !gr_rollback_all(plan))
		return "pipeline on-failure: stop";
	if (w->src->on_failure == ON_FAILURE_STOP)
		return "on-failure: stop";
	if (w->src->on_failure == ON_FAILURE_IGNORE)
		return "on-failure: ignore";
	return "not rolled back";
}

/* ---- entry points ---- */

int plan_format_parse(const char *s, enum plan_format *out)
{
	static const struct {
		const char *name;
		enum plan_format fmt;
	} formats[] = {
		{ "text", PLAN_FORMAT_TEXT },
		{ "dot", PLAN_FORMAT_DOT },
		{ "mermaid", PLAN_FORMAT_MERMAID },
		{ "json", PLAN_FORMAT_JSON },
	};
	for (size_t i = 0; s && i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(s, formats[i].name) == 0) {
			*out = formats[i].fmt;
			return 0;
		}
	}
	return -1;
}

void plan_render(const struct plan *plan, enum plan_format fmt, struct buf *out)
{
	switch (fmt) {
	case PLAN_FORMAT_TEXT: gr_render_text(plan, out); break;
	case PLAN_FORMAT_DOT: gr_render_dot(plan, out); break;
	case PLAN_FORMAT_MERMAID: gr_render_mermaid(plan, out); break;
	case PLAN_FORMAT_JSON: gr_render_json(plan, out); break;
	}
}

