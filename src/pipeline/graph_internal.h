/*
 * graph_internal: what the plan renderers (graph.c, graph_text.c,
 * graph_flow.c, graph_json.c) share: escaping for each format, small
 * formatting helpers, and the facts every format shows the same way
 * (which barrier a step crosses, when a workflow rolls back).
 */
#ifndef LS_GRAPH_INTERNAL_H
#define LS_GRAPH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "pipeline/model.h"

/* How a string is escaped for its format. */
enum esc { ESC_TEXT, ESC_DOT, ESC_MERMAID };
/* When a workflow's rollback list runs if its group (or a later one) fails. */
enum rb_when { RB_NEVER, RB_IF_FAILED, RB_IF_SUCCEEDED, RB_ALWAYS };

/* ---- text helpers (their contracts are above their definitions in graph.c) ---- */

/* Length of the valid UTF-8 sequence at `p`, or 0. */
size_t gr_utf8_seq(const unsigned char *p);
void gr_put_esc(struct buf *out, const char *s, enum esc style);
const char *gr_utf8_clean(const char *s, struct buf *tmp);
size_t gr_text_width(const char *s);
void gr_put_text(struct buf *out, const char *s);
void gr_put_sep(struct buf *b, const char *sep);
void gr_put_pos(struct buf *b, const char *file, struct pos pos);
void gr_put_kvlist(struct buf *b, const struct kvlist *kv);
void gr_put_duration(struct buf *b, uint64_t ms);
void gr_put_environment(struct buf *b, const struct plan_environment *e);
/* ---- facts every format shows the same way ---- */

const struct pipeline *gr_pl(const struct plan *plan);
bool gr_rollback_all(const struct plan *plan);
const struct plan_barrier *gr_step_barrier(const struct plan *plan, const struct plan_step *ps,
					       bool in_rollback);
const struct plan_step *gr_use_step(const struct plan *plan, const struct plan_barrier *b,
					const struct plan_barrier_use *u, size_t *nlist);
void gr_step_details(const struct plan_step *ps, bool with_kind, struct buf *b);
enum rb_when gr_rollback_when(const struct plan *plan, const struct plan_workflow *w,
				  bool failed_group);
const char *gr_rb_when_name(enum rb_when when);
const char *gr_rb_never_reason(const struct plan *plan, const struct plan_workflow *w,
				   bool failed_group);

/* ---- the renderers, one file each ---- */

void gr_render_text(const struct plan *plan, struct buf *out);
void gr_render_dot(const struct plan *plan, struct buf *out);
void gr_render_mermaid(const struct plan *plan, struct buf *out);
void gr_render_json(const struct plan *plan, struct buf *out);

#endif
