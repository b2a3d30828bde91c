/*
 * load: a pipeline file -> struct pipeline, validating the schema of
 * SPEC §1: unknown keys (with "did you mean"), wrong types, missing
 * required keys, duplicate keys and names, bad names and durations, steps
 * with zero or two kinds, stages naming unknown workflows, expressions
 * with bad syntax or unknown roots. Every problem is reported in one pass.
 */
#ifndef LS_LOAD_H
#define LS_LOAD_H

#include <stddef.h>

#include "base/diag.h"
#include "pipeline/model.h"

/*
 * Reads and validates `file` ("-" for standard input). Returns the
 * pipeline (caller frees with pipeline_free), or NULL when it has errors;
 * errors and warnings are added to `d` either way.
 */
struct pipeline *pipeline_load(const char *file, struct diag *d);
/* The same for text already in memory; `file` names it in diagnostics. */
struct pipeline *pipeline_load_text(const char *file, const char *text, size_t len,
				    struct diag *d);
void pipeline_free(struct pipeline *p);

#endif
