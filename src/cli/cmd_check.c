#include <stdio.h>
#include <stdlib.h>

#include "base/diag.h"
#include "cli/cli.h"
#include "pipeline/compile.h"

static const char usage[] =
	"usage: lockstep check FILE... [--json] [--var KEY=VALUE]... [--kubectl PATH]\n"
	"\n"
	"Validates pipeline files without running anything: the schema, names,\n"
	"durations and expressions; barrier rules (every barrier has at least two\n"
	"participants in one parallel group and is crossed once per workflow); and\n"
	"barrier deadlocks (workflows that cross the same barriers in opposite\n"
	"orders); for Kubernetes steps, that kubectl is there and that their\n"
	"manifests exist. Every problem is reported, as FILE:LINE:COL: error: MESSAGE.\n"
	"\n"
	"options:\n";

static const char more[] =
	"\n"
	"exit codes: 0 valid (warnings allowed), 3 invalid, 2 usage error\n";

int cmd_check(int argc, char **argv)
{
	struct opt_list var_args = OPT_LIST_INIT;
	bool json = false;
	const char *kubectl = NULL;
	const struct opt opts[] = {
		OPT_FLAG(0, "json", &json, "print the diagnostics as a JSON array on stdout:\n"
					   "[{file, line, col, severity, message}]"),
		CLI_OPT_VAR(&var_args),
		CLI_OPT_KUBECTL(&kubectl),
		OPT_HELP(),
		OPT_END(),
	};
	int rc = cli_options("check", opts, usage, more, &argc, &argv);
	if (rc < 0)
		rc = cli_want_args("check", argc, 1, -1, "FILE", NULL);
	if (rc >= 0) {
		opt_list_release(&var_args);
		return rc;
	}
	struct arena a = ARENA_INIT;
	struct kvlist vars = cli_vars(&var_args, &a);
	opt_list_release(&var_args);

	struct diag all = DIAG_INIT;
	bool color = !json && cli_color(stderr);
	rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		struct diag d = DIAG_INIT;
		struct compile_opts co = { .overrides = &vars, .kubectl = kubectl };
		struct plan *plan = pipeline_compile_opts(argv[i], NULL, 0, &co, &d);
		if (!plan)
			rc = EXIT_INVALID;
		if (json) {
			for (size_t k = 0; k < d.n; k++)
				diag_add(&all, d.items[k].severity, d.items[k].file, d.items[k].line,
					 d.items[k].col, "%s", d.items[k].message);
		} else {
			diag_print(&d, stderr, color);
			if (d.errors)
				fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", argv[i], d.errors,
					d.errors == 1 ? "" : "s", d.warnings, d.warnings == 1 ? "" : "s");
			else if (d.warnings)
				fprintf(stderr, "%s: ok, %zu warning%s\n", argv[i], d.warnings,
					d.warnings == 1 ? "" : "s");
			else
				fprintf(stderr, "%s: ok\n", argv[i]);
		}
		compile_free(plan);
		diag_release(&d);
	}
	if (json) {
		char *s = diag_to_json(&all);
		puts(s);
		free(s);
	}
	diag_release(&all);
	arena_release(&a);
	return rc;
}
