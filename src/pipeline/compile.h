/*
 * compile: the front door used by the commands: load, expand and check a
 * pipeline file in one call.
 */
#ifndef LS_COMPILE_H
#define LS_COMPILE_H

#include <stdbool.h>

#include "base/diag.h"
#include "pipeline/model.h"

/*
 * Loads `file`, builds its plan with `overrides` (may be NULL) and checks
 * it, what its Kubernetes steps need included (kubectl on $PATH).
 * Returns the plan (free with compile_free) when there are no errors;
 * NULL otherwise. Every diagnostic is in `d`, sorted by position.
 */
struct plan *pipeline_compile(const char *file, const struct kvlist *overrides, struct diag *d);
/* What the commands may say about a compilation besides the file. */
struct compile_opts {
	const struct kvlist *overrides; /* --var values, or NULL */
	const char *kubectl;            /* --kubectl, or NULL: kubectl on $PATH */
	const char *base_dir;           /* NULL: the pipeline file's directory */
	bool no_resources;              /* skip the checks that read other files */
};

/*
 * pipeline_compile with options, for the file or for its text: `text`
 * (`len` bytes, borrowed; `file` names it in diagnostics and is the base
 * of relative paths), or NULL to read `file`. Unless `no_resources`, also checks what the Kubernetes
 * steps need (kubectl, manifests; see resources.h) and sets plan->kubectl.
 */
struct plan *pipeline_compile_opts(const char *file, const char *text, size_t len,
				   const struct compile_opts *o, struct diag *d);
/* Frees the plan and the pipeline it was built from. */
void compile_free(struct plan *plan);

#endif
