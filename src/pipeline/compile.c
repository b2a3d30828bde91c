#include "pipeline/compile.h"

#include <stdlib.h>

#include "pipeline/check.h"
#include "pipeline/expand.h"
#include "pipeline/load.h"
#include "pipeline/resources.h"

static struct plan *compile(struct pipeline *p, bool had_errors, const struct compile_opts *o,
			    struct diag *d, size_t errors)
{
	struct plan *plan = NULL;
	if (p) {
		/* Expansion finds problems of its own (duplicate instances, missing
		 * inputs) that are worth reporting with the schema errors. The
		 * barrier rules are not: on a half-loaded file they would report
		 * consequences of the dropped parts, not causes. */
		plan = plan_build(p, o->overrides, d);
		if (plan && !had_errors) {
			plan_check(plan, d);
			if (!o->no_resources) {
				struct resource_opts ro = { .base_dir = o->base_dir, .kubectl = o->kubectl };
				plan_check_resources(plan, &ro, d);
			}
		}
	}
	diag_sort(d);
	if (d->errors > errors) {
		if (plan)
			plan_free(plan);
		pipeline_free(p);
		return NULL;
	}
	return plan;
}

struct plan *pipeline_compile_opts(const char *file, const char *text, size_t len,
				   const struct compile_opts *o, struct diag *d)
{
	static const struct compile_opts none;
	if (!o)
		o = &none;
	size_t errors = d->errors;
	bool had_errors;
	struct pipeline *p = text ? pipeline_load_text_lenient(file, text, len, d, &had_errors)
				  : pipeline_load_lenient(file, d, &had_errors);
	return compile(p, had_errors, o, d, errors);
}

struct plan *pipeline_compile(const char *file, const struct kvlist *overrides, struct diag *d)
{
	struct compile_opts o = { .overrides = overrides };
	return pipeline_compile_opts(file, NULL, 0, &o, d);
}

void compile_free(struct plan *plan)
{
	if (!plan)
		return;
	/* The plan borrows its pipeline; the pair was made together. */
	struct pipeline *p = (struct pipeline *)plan->pipeline;
	plan_free(plan);
	pipeline_free(p);
}
