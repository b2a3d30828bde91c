/*
 * compile: the front door used by the commands: load, expand and check a
 * pipeline file in one call.
 */
#ifndef LS_COMPILE_H
#define LS_COMPILE_H

#include "base/diag.h"
#include "pipeline/model.h"

/*
 * Loads `file`, builds its plan with `overrides` (may be NULL) and checks
 * it. Returns the plan (free with compile_free) when there are no errors;
 * NULL otherwise. Every diagnostic is in `d`, sorted by position.
 */
struct plan *pipeline_compile(const char *file, const struct kvlist *overrides, struct diag *d);
/*
 * The same for the pipeline text `text` (`len` bytes, borrowed); `file`
 * names it in diagnostics and is the base of relative paths.
 */
struct plan *pipeline_compile_text(const char *file, const char *text, size_t len,
				   const struct kvlist *overrides, struct diag *d);
/* Frees the plan and the pipeline it was built from. */
void compile_free(struct plan *plan);

#endif
