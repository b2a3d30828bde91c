#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "cli/cli.h"
#include "pipeline/compile.h"

const char cmd_check_usage[] =
	"usage: lockstep check FILE... [--json] [--var KEY=VALUE]... [--kubectl PATH]\n"
	"\n"
	"Validates pipeline files without running anything: the schema, names,\n"
	"durations and expressions; barrier rules (every barrier has at least two\n"
	"participants in one parallel group and is crossed once per workflow); and\n"
	"barrier deadlocks (workflows that cross the same barriers in opposite\n"
	"orders); for Kubernetes steps, that kubectl is there and that their\n"
	"manifests exist. Every problem is reported, as FILE:LINE:COL: error: MESSAGE.\n"
	"\n"
	"options:\n"
	"  --json             print the diagnostics as a JSON array on stdout:\n"
	"                     [{file, line, col, severity, message}]\n"
	"  --var KEY=VALUE    override a declared var (repeatable)\n"
	"  --kubectl PATH     the kubectl Kubernetes steps run (default: kubectl on PATH)\n"
	"  -h, --help         show this help\n"
	"\n"
	"exit codes: 0 valid (warnings allowed), 3 invalid, 2 usage error\n";

/* Reports a bad option getopt_long stopped at; returns EXIT_USAGE. */
static int bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "var", required_argument, NULL, 'v' },
		{ "kubectl", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct arena a = ARENA_INIT;
	struct kvlist vars = { NULL, 0 };
	bool json = false;
	const char *kubectl = NULL;
	int c, rc;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'v':
			if (!cli_parse_var(optarg, &vars, &a)) {
				arena_release(&a);
				return cli_usage_error("check", "--var takes KEY=VALUE, not '%s'", optarg);
			}
			break;
		case 'k':
			kubectl = optarg;
			break;
		case 'h':
			fputs(cmd_check_usage, stdout);
			arena_release(&a);
			return EXIT_OK;
		default:
			arena_release(&a);
			return bad_option("check", c, argv);
		}
	}
	if (optind >= argc) {
		arena_release(&a);
		return cli_usage_error("check", "missing FILE");
	}

	struct diag all = DIAG_INIT;
	bool color = !json && cli_color(stderr);
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
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
