/*
 * check: the barrier rules that need the whole expanded plan.
 *   B2  a barrier needs at least two participants (suggests the closest id)
 *   B3  all participants of a barrier are in one parallel group
 *   B4  a workflow crosses a barrier at most once; not in steps and rollback
 *   B8  the barrier order graph of each group has no cycle (deadlock)
 * Rollback barriers (B9) are checked the same way among rollback lists.
 * Warnings: declared barriers and environments that nothing uses, and
 * environments with kubernetes settings but no namespace.
 */
#ifndef LS_CHECK_H
#define LS_CHECK_H

#include <stddef.h>

#include "base/diag.h"
#include "pipeline/model.h"

/* Most cycles reported for one plan; more are summarised in one line. */
#define CHECK_MAX_CYCLES 100

/* Adds every violation to `d`; returns how many errors it added. */
size_t plan_check(const struct plan *plan, struct diag *d);

#endif
