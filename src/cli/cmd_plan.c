#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "cli/cli.h"
#include "pipeline/compile.h"
#include "pipeline/graph.h"

const char cmd_plan_usage[] =
	"usage: lockstep plan FILE [--format text|dot|mermaid|json] [--var KEY=VALUE]...\n"
	"                          [--kubectl PATH]\n"
	"\n"
	"Shows the plan a run would execute: parallel groups, workflow instances\n"
	"after matrix expansion, each barrier with its participants, timeout and\n"
	"position in each workflow, rollback lists, and the order in which\n"
	"rollbacks would run. Nothing is run.\n"
	"\n"
	"options:\n"
	"  --format FORMAT    text (default), dot (Graphviz: lockstep plan p.yml\n"
	"                     --format dot | dot -Tsvg > plan.svg), mermaid, json\n"
	"  --var KEY=VALUE    override a declared var (repeatable)\n"
	"  --kubectl PATH     the kubectl Kubernetes steps run (checked as by check)\n"
	"  -h, --help         show this help\n"
	"\n"
	"exit codes: 0 ok, 3 invalid pipeline file (diagnostics on stderr), 2 usage error\n";

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "var", required_argument, NULL, 'v' },
		{ "kubectl", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct arena a = ARENA_INIT;
	struct kvlist vars = { NULL, 0 };
	enum plan_format fmt = PLAN_FORMAT_TEXT;
	const char *kubectl = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hf:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (plan_format_parse(optarg, &fmt) < 0) {
				arena_release(&a);
				return cli_usage_error("plan", "unknown format '%s': use text, dot, mermaid or json",
						       optarg);
			}
			break;
		case 'v':
			if (!cli_parse_var(optarg, &vars, &a)) {
				arena_release(&a);
				return cli_usage_error("plan", "--var takes KEY=VALUE, not '%s'", optarg);
			}
			break;
		case 'k':
			kubectl = optarg;
			break;
		case 'h':
			fputs(cmd_plan_usage, stdout);
			arena_release(&a);
			return EXIT_OK;
		case ':':
			arena_release(&a);
			return cli_usage_error("plan", "option '%s' needs a value", argv[optind - 1]);
		default:
			arena_release(&a);
			return cli_usage_error("plan", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		arena_release(&a);
		return cli_usage_error("plan", "missing FILE");
	}
	if (argc - optind > 1) {
		arena_release(&a);
		return cli_usage_error("plan", "takes one FILE, got %d", argc - optind);
	}

	struct diag d = DIAG_INIT;
	struct compile_opts co = { .overrides = &vars, .kubectl = kubectl };
	struct plan *plan = pipeline_compile_opts(argv[optind], NULL, 0, &co, &d);
	diag_print(&d, stderr, cli_color(stderr));
	int rc = EXIT_OK;
	if (!plan) {
		fprintf(stderr, "%s: %zu error%s; no plan\n", argv[optind], d.errors,
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
