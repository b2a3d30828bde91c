/*
 * load: a pipeline file -> struct pipeline, validating the schema of
 * docs/pipeline-format.md#errors-and-warnings: unknown keys (with "did
 * you mean"), wrong types, missing required keys, duplicate keys and
 * names, bad names and durations, steps with zero or two kinds, stages
 * naming unknown workflows, expressions with bad syntax or unknown roots.
 * Every problem is reported in one pass.
 */
#ifndef LS_LOAD_H
#define LS_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "pipeline/model.h"

/*
 * Reads and validates `file` ("-" for standard input). Returns the
 * pipeline (caller frees with pipeline_free), or NULL when it has errors;
 * errors and warnings are added to `d` either way.
 */
struct pipeline *pipeline_load(const char *file, struct diag *d);
/*
 * Reads pipeline file `file` ("-": stdin) into *text (malloc'd, free it),
 * at most 4 MiB. Returns false with an error in `d` when it cannot.
 */
bool pipeline_read(const char *file, char **text, size_t *len, struct diag *d);
/* The same for text already in memory; `file` names it in diagnostics. */
struct pipeline *pipeline_load_text(const char *file, const char *text, size_t len,
				    struct diag *d);
/*
 * Like pipeline_load, but also returns a pipeline that has errors: what
 * could be loaded, so that later phases can report more problems in the
 * same pass. NULL only when nothing usable was read (not YAML, not a
 * mapping, no name). Such a pipeline must never be run; `*had_errors` says
 * whether it is one.
 */
struct pipeline *pipeline_load_lenient(const char *file, struct diag *d, bool *had_errors);
struct pipeline *pipeline_load_text_lenient(const char *file, const char *text, size_t len,
					    struct diag *d, bool *had_errors);
void pipeline_free(struct pipeline *p);
/*
 * The position in the file of byte `offset` of string field `value`,
 * whose scalar starts at `start`. Exact when the expression at `offset`
 * appears verbatim in the file (plain, quoted or block scalars alike);
 * otherwise `start`. Used to point at one ${{ }} inside a long script.
 */
struct pos pipeline_text_pos(const struct pipeline *p, struct pos start, const char *value,
			     size_t offset);

#endif
