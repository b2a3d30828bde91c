/*
 * load_internal: what the pipeline loader's files share (load.c: the
 * document, environments, workflows, stages and barriers; load_step.c:
 * steps and their kinds; load_common.c: diagnostics, typed values,
 * expressions and string maps). Private to src/pipeline/.
 */
#ifndef LS_PIPELINE_LOAD_INTERNAL_H
#define LS_PIPELINE_LOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/logname.h"
#include "base/map.h"
#include "pipeline/expr.h"
#include "pipeline/load.h"
#include "pipeline/model.h"
#include "pipeline/yaml.h"

#define MAX_RETRIES 100
/* An attempt number (at most MAX_RETRIES + 1) names log files (base/logname.h). */
_Static_assert(MAX_RETRIES + 1 < 1000 && LOG_ATTEMPT_DIGITS == 3,
	       "attempt numbers must fit LOG_ATTEMPT_DIGITS");

/*
 * What ${{ }} may name in environments (docs/pipeline-format.md,
 * Environments). An environment is declared once and shared by every
 * workflow that runs in it, so its fields cannot depend on one instance:
 * vars and the pipeline name only, plus the run id in env values (which
 * are substituted when a step starts, like every env value). Where an
 * environment is chosen (environment: NAME), every name known before the
 * run may be used, as in barrier ids.
 */
#define ENVIRONMENT_EXPRS (EXPR_VARS | EXPR_PIPELINE)
#define ENVIRONMENT_ENV_EXPRS (EXPR_VARS | EXPR_PIPELINE | EXPR_RUN)
#define ENVIRONMENT_USE_EXPRS (EXPR_ALL & ~EXPR_RUN)

/*
 * Where ${{ secrets.X }} may appear: env values (of steps, workflows and
 * environments) and http-check header values, which reach a step's
 * environment or a request and are never shown (docs/pipeline-format.md,
 * Secrets). Everywhere else (a command line, a name, a url) it is an
 * error that says why and what to do instead.
 */
#define ENV_EXPRS (EXPR_ALL | EXPR_SECRETS)
#define HEADER_EXPRS (EXPR_ALL | EXPR_SECRETS)

struct loader {
	const char *file;
	struct diag *d;
	struct pipeline *p;
	struct arena *a;
	struct map vars;       /* var name -> index, for expression checks */
	struct map workflows;  /* workflow name -> index */
	struct map environments; /* environment name -> index */
	struct map secrets;    /* secret name -> index */
};

/* KV_ENVIRONMENT: the env of a declared environment, shared by every
 * workflow that runs in it, so nothing per instance (matrix, inputs). */
enum kv_rule { KV_VARS, KV_ENV, KV_WITH, KV_ENVIRONMENT };

/* ---- load_common.c ---- */

void ld_err(struct loader *L, const struct ynode *n, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
void ld_err_at(struct loader *L, struct pos pos, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
void ld_warn_at(struct loader *L, struct pos pos, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
struct pos ld_pos_of(const struct ynode *n);
bool ld_single_line_plain(const struct ynode *n);
bool ld_is_key_name(const char *s);
bool ld_is_step_id(const char *s);
void ld_check_keys(struct loader *L, const struct ynode *map,
		const char *const *allowed, size_t nallowed, const char *where);
const char *ld_get_str(struct loader *L, const struct ynode *n, const char *what);
bool ld_get_bool(struct loader *L, const struct ynode *n, const char *what, bool *out);
bool ld_get_int(struct loader *L, const struct ynode *n, const char *what, long max, int *out);
bool ld_get_duration(struct loader *L, const struct ynode *n,
		const char *what, bool positive, uint64_t *out);
bool ld_expect_kind(struct loader *L, const struct ynode *n, enum ynode_kind kind,
		const char *what);
bool ld_check_exprs(struct loader *L, const struct ynode *n, unsigned allowed, const char *where);
bool ld_no_exprs(struct loader *L, const struct ynode *n, const char *where);
void ld_load_kvlist(struct loader *L, const struct ynode *n, enum kv_rule rule,
		const char *what, struct kvlist *out);
bool ld_load_on_failure(struct loader *L, const struct ynode *n,
		bool pipeline, enum on_failure *out);

/* ---- load_secrets.c ---- */

/* The top-level `secrets:` map: declarations, no values. */
void ld_load_secrets(struct loader *L, const struct ynode *n);
/*
 * Reports ${{ secrets.X }} (`ref`) where `where` does not take it, at
 * `pos`: why (what is shown there) and what to do instead.
 */
void ld_secret_misplaced(struct loader *L, struct pos pos, const struct expr_ref *ref,
		const char *where);
/* Reports ${{ secrets.X }} naming no declared secret, at `pos`. */
void ld_secret_unknown(struct loader *L, struct pos pos, const struct expr_ref *ref);

/* ---- load_step.c ---- */

void ld_load_steplist(struct loader *L, const struct ynode *n,
		bool rollback, const char *wfname, struct steplist *out);
void ld_check_step_ids(struct loader *L, struct workflow *wf);

#endif
