/*
 * expand: struct pipeline -> struct plan. Each stage entry becomes one
 * workflow instance, or one per matrix combination (`deploy[region=eu]`);
 * stage entries join parallel groups; `with:` inputs, vars (with
 * overrides), matrix values and names are substituted into step fields and
 * barrier ids; barriers are collected with their participants.
 */
#ifndef LS_EXPAND_H
#define LS_EXPAND_H

#include "base/diag.h"
#include "pipeline/model.h"

/*
 * Builds the plan for `p` (borrowed; it must outlive the plan). `overrides`
 * (may be NULL) replaces values of declared vars; an override of an
 * undeclared var is an error. Returns NULL when expansion fails (errors in
 * `d`). The plan is not checked: see plan_check().
 */
struct plan *plan_build(const struct pipeline *p, const struct kvlist *overrides, struct diag *d);
void plan_free(struct plan *plan);

/* The participants of barrier `b` as "a, b and c" into `out`. */
struct buf;
void plan_barrier_participants(const struct plan *plan, const struct plan_barrier *b,
			       struct buf *out);

#endif
