/*
 * plan_size: what expanding a pipeline would make, computed before it is
 * expanded, so that a small file cannot ask for gigabytes.
 *
 * A stage entry with a matrix repeats its workflow once per instance:
 * 5 KB of file can mean millions of steps. The sizes are computed from
 * the matrix sizes and the unexpanded text, without building anything
 * per instance, in time linear in the file:
 *
 *   instances  the workflow instances (PLAN_MAX_INSTANCES)
 *   steps      their steps and rollback steps (PLAN_MAX_STEPS)
 *   text       the bytes expansion writes or reads for each instance
 *              (PLAN_MAX_TEXT_BYTES): the instance name, and every field
 *              of the workflow that expansion evaluates (step names
 *              given, run, dir, barrier ids, http-check urls, patterns
 *              and headers, k8s-rolling paths, namespaces and contexts,
 *              env and with values, the environment name) with each
 *              expression replaced by its value; each entry of a map or
 *              list copied per instance (env, headers, with, matrix,
 *              manifests) counts PLAN_ENTRY_BYTES besides its text, and a
 *              barrier id without a step name counts twice (it is in the
 *              derived name too); and, once for the plan, the values of
 *              the declared environments
 *
 * Everything expansion allocates or scans per instance is bounded by a
 * constant per step (a struct plan_step, a derived name of at most 60
 * bytes) plus a constant times the text, so memory and time of check,
 * plan and run are proportional to these sizes (docs/performance.md).
 */
#ifndef LS_PLAN_SIZE_H
#define LS_PLAN_SIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "pipeline/model.h"

struct plan_size {
	uint64_t instances;
	uint64_t steps;
	uint64_t text;       /* saturates at UINT64_MAX */
};

/*
 * Sizes the plan of `p` (borrowed) with `vars` (the vars after --var
 * overrides) into `out`: the environments, then stage entry by stage
 * entry. Returns true when it is within the limits; otherwise reports an
 * error at the environment or stage entry that passes a limit first and
 * returns false (`out` then holds the sizes up to and including it).
 * Entries left out of expansion (incomplete) count their instances only.
 */
bool plan_size_check(const struct pipeline *p, const struct kvlist *vars, struct plan_size *out,
		     struct diag *d);

#endif
