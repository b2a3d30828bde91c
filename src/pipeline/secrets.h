/*
 * secrets: the values of a pipeline's secrets, for one run.
 *
 * A pipeline declares its secrets (`secrets:`, struct secret_decl); their
 * values never come from the pipeline file, and lockstep never records or
 * shows them. When a run starts (and again when `resume` or `abort` takes
 * it over: the recorded run does not hold them) each declared secret NAME
 * gets its value from:
 *
 *   --secrets-file FILE    a line NAME=VALUE (the file wins: it is named
 *                          on this command line, the environment may be
 *                          left over from an earlier shell)
 *   LOCKSTEP_SECRET_<NAME> the environment (upper-cased, '-' -> '_')
 *
 * The file is refused when its group or others have any access to it
 * (as ssh refuses a private key): a value in it may already have leaked.
 * An empty value counts as none. Problems never quote a value, nor any
 * text of the file but declared names.
 */
#ifndef LS_PIPELINE_SECRETS_H
#define LS_PIPELINE_SECRETS_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "pipeline/model.h"

/* Bounds of what is read: a secrets file, and one value. */
#define SECRETS_FILE_MAX (1024u * 1024)
#define SECRET_VALUE_MAX (64u * 1024)

/* The values found for one run. */
struct secret_values {
	/* name -> value of each declared secret, in declaration order; an
	 * optional secret without a value has "" */
	struct kvlist values;
	struct arena arena;        /* owns the values */
};

#define SECRET_VALUES_INIT { { NULL, 0 }, ARENA_INIT }

/*
 * Finds the values of `p`'s secrets in `file` (NULL: no file) and in
 * `env` (an environ-style, NULL-terminated list). Every problem goes to
 * `d`: the file cannot be read, is too large, group or others may access
 * it, a line is not NAME=VALUE, a name is given twice, a value is too
 * long (errors, at FILE:LINE); a line naming no declared secret
 * (warning); a required secret without a value (error at its
 * declaration, saying how to give it). Returns 0 when there is no error.
 * Release `out` with secrets_release in any case.
 */
int secrets_load(const struct pipeline *p, const char *file, char *const *env,
		 struct secret_values *out, struct diag *d);
void secrets_release(struct secret_values *sv);
/* A mask (base/mask.h) of every value in `sv`: free it with mask_free. */
struct mask *secrets_mask(const struct secret_values *sv);
/* Appends secret `name` as environment variables spell names: upper-cased, '-' -> '_'. */
void secret_env_key(const char *name, struct buf *out);
/* Appends the environment variable of secret `name`: LOCKSTEP_SECRET_<NAME>. */
void secret_env_var(const char *name, struct buf *out);

#endif
