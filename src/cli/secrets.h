/*
 * secrets (cli): the --secrets-file option of `run`, `resume` and `abort`
 * and what they do before anything starts: find the values of the plan's
 * secrets (pipeline/secrets.h), say what is wrong or missing, and make
 * the mask of their values.
 */
#ifndef LS_CLI_SECRETS_H
#define LS_CLI_SECRETS_H

#include "base/mask.h"
#include "pipeline/model.h"
#include "pipeline/secrets.h"

/*
 * The values of `plan`'s secrets for command `cmd`, from `file`
 * (--secrets-file, or NULL) and lockstep's environment. Prints every
 * problem on standard error, then, when one is an error, a line saying
 * what `cmd` did not do (`what`, e.g. "nothing was run"), and returns
 * EXIT_USAGE. Otherwise returns -1 with `sv` filled and `*mask` made
 * (release both, also after EXIT_USAGE: secrets_release, mask_free).
 */
int cli_secrets_load(const char *cmd, const struct plan *plan, const char *file, const char *what,
		     struct secret_values *sv, struct mask **mask);

#endif
