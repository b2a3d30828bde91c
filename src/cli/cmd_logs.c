#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "store/report.h"
#include "store/store.h"

const char cmd_logs_usage[] =
	"usage: lockstep logs RUN [WORKFLOW[/STEP]] [--state DIR]\n"
	"\n"
	"Prints the recorded output of a run's steps, each attempt after a\n"
	"header line '==> WORKFLOW/STEP attempt N: STATUS, exit CODE, DURATION <==',\n"
	"in the order the attempts started: all run steps of the run, those of\n"
	"one WORKFLOW (an instance name such as 'deploy[region=eu]'), or one\n"
	"step (WORKFLOW/STEP, STEP being the step id).\n"
	"\n"
	"options:\n"
	"  --state DIR    state directory (default $LOCKSTEP_STATE, else ./.lockstep)\n"
	"  -h, --help     show this help\n"
	"\n"
	"exit codes: 0 ok, 1 no such run, workflow or step, 2 usage error (RUN is\n"
	"            not a run id), 4 state store error (including a missing state\n"
	"            directory)\n";

int cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			state = optarg;
			break;
		case 'h':
			fputs(cmd_logs_usage, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("logs", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("logs", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("logs", "missing RUN");
	if (argc - optind > 2)
		return cli_usage_error("logs", "takes RUN and at most one WORKFLOW[/STEP], got %d arguments",
				       argc - optind);
	uint64_t id;
	if (!report_parse_run_id(argv[optind], &id))
		return cli_usage_error("logs", "'%s' is not a run id: run ids are 1, 2, 3...",
				       argv[optind]);
	const char *select = argc - optind == 2 ? argv[optind + 1] : NULL;
	state = cli_state_dir(state);

	struct buf err = BUF_INIT;
	struct store *st;
	struct store_run run;
	int r = store_open(state, STORE_READONLY, &st, &err);
	if (r == 0) {
		r = store_load_run(st, id, 0, &run, &err);
		store_close(st);
	}
	if (r == 0) {
		r = report_logs(&run, state, select, stdout, &err);
		store_run_release(&run);
	}
	if (r < 0) {
		fprintf(stderr, "lockstep logs: %s\n", err.s);
		buf_release(&err);
		return cli_store_exit(r);
	}
	buf_release(&err);
	return EXIT_OK;
}
