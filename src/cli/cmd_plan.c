#include <stdio.h>

#include "base/buf.h"
#include "base/diag.h"
#include "cli/cli.h"
#include "pipeline/compile.h"
#include "pipeline/graph.h"

static const char usage[] =
	"usage: lockstep plan FILE [--format text|dot|mermaid|json] [--var KEY=VALUE]...\n"
	"                          [--kubectl PATH]\n"
	"\n"
	"Shows the plan a run would execute: parallel groups, workflow instances\n"
	"after matrix expansion, each barrier with its participants, timeout and\n"
	"position in each workflow, rollback lists, and the order in which\n"
	"rollbacks would run. Nothing is run.\n"
	"\n"
	"options:\n";

static const char more[] =
	"\n"
	"exit codes: 0 ok, 3 invalid pipeline file (diagnostics on stderr), 2 usage error\n";

static int check_format(const char *arg, struct buf *why)
{
	enum plan_format fmt;
	if (plan_format_parse(arg, &fmt) == 0)
		return 0;
	buf_addf(why, "unknown format '%s': use text, dot, mermaid or json", arg);
	return -1;
}

int cmd_plan(int argc, char **argv)
{
	struct opt_list var_args = OPT_LIST_INIT;
	const char *format = NULL, *kubectl = NULL;
	const struct opt opts[] = {
		OPT_CHECKED('f', "format", &format, "FORMAT", check_format,
			    "text (default), dot (Graphviz: lockstep plan p.yml\n"
			    "--format dot | dot -Tsvg > plan.svg), mermaid, json"),
		CLI_OPT_VAR(&var_args),
		OPT_STRING(0, "kubectl", &kubectl, "PATH",
			   "the kubectl Kubernetes steps run (checked as by check)"),
		OPT_HELP(),
		OPT_END(),
	};
	int rc = cli_options("plan", opts, usage, more, &argc, &argv);
	if (rc < 0)
		rc = cli_want_args("plan", argc, 1, 1, "FILE", "one FILE");
	if (rc >= 0) {
		opt_list_release(&var_args);
		return rc;
	}
	enum plan_format fmt = PLAN_FORMAT_TEXT;
	if (format)
		plan_format_parse(format, &fmt);
	struct arena a = ARENA_INIT;
	struct kvlist vars = cli_vars(&var_args, &a);
	opt_list_release(&var_args);

	struct diag d = DIAG_INIT;
	struct compile_opts co = { .overrides = &vars, .kubectl = kubectl };
	struct plan *plan = pipeline_compile_opts(argv[0], NULL, 0, &co, &d);
	diag_print(&d, stderr, cli_color(stderr));
	rc = EXIT_OK;
	if (!plan) {
		fprintf(stderr, "%s: %zu error%s; no plan\n", argv[0], d.errors,
			d.errors == 1 ? "" : "s");
		rc = EXIT_INVALID;
	} else {
		struct buf out = BUF_INIT;
		plan_render(plan, fmt, &out);
		fwrite(out.s, 1, out.len, stdout);
		if (out.len && out.s[out.len - 1] != '\n')
			fputc('\n', stdout);
		buf_release(&out);
	}
	compile_free(plan);
	diag_release(&d);
	arena_release(&a);
	return rc;
}
