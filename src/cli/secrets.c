#include "cli/secrets.h"

#include <stdio.h>

#include "base/diag.h"
#include "cli/cli.h"

extern char **environ;

int cli_secrets_load(const char *cmd, const struct plan *plan, const char *file, const char *what,
		     struct secret_values *sv, struct mask **mask)
{
	*mask = NULL;
	struct diag d = DIAG_INIT;
	int r = secrets_load(plan->pipeline, file, environ, sv, &d);
	diag_sort(&d);
	diag_print(&d, stderr, cli_color(stderr));
	diag_release(&d);
	if (r < 0) {
		fprintf(stderr, "lockstep %s: %s\n", cmd, what);
		return EXIT_USAGE;
	}
	*mask = secrets_mask(sv);
	return -1;
}
