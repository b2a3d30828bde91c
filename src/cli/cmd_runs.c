#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/report.h"
#include "store/store.h"

const char cmd_runs_usage[] =
	"usage: lockstep runs [--state DIR] [--json] [--limit N] [--pipeline NAME] [--status STATUS]\n"
	"\n"
	"Lists the runs recorded in the state directory, newest first: id,\n"
	"pipeline, status, start time (local) and duration. A run recorded as\n"
	"running whose lockstep process is gone shows as interrupted.\n"
	"\n"
	"options:\n"
	"  --state DIR    state directory (default $LOCKSTEP_STATE, else ./.lockstep)\n"
	"  --json         one JSON array of runs on stdout\n"
	"  --limit N      only the newest N runs (of those the filters keep)\n"
	"  --pipeline NAME  only runs of this pipeline\n"
	"  --status STATUS  only runs in this status: running, succeeded, failed,\n"
	"                 aborted or interrupted\n"
	"  -h, --help     show this help\n"
	"\n"
	"exit codes: 0 ok, 2 usage error, 4 state store error (including a missing\n"
	"            state directory)\n";

int cmd_runs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "pipeline", required_argument, NULL, 'p' },
		{ "status", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *pipeline = NULL, *status = NULL;
	bool json = false;
	uint64_t limit = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			state = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'l': {
			/* There cannot be more runs than run ids. */
			int rc = cli_parse_number("runs", "--limit", optarg, "runs", 1, STORE_RUN_ID_MAX, &limit);
			if (rc >= 0)
				return rc;
			break;
		}
		case 'p':
			if (!*optarg)
				return cli_usage_error("runs", "--pipeline needs a pipeline name");
			pipeline = optarg;
			break;
		case 'S':
			if (!store_run_status_is_valid(optarg))
				return cli_usage_error("runs",
						       "bad --status '%s': running, succeeded, failed, aborted or interrupted",
						       optarg);
			status = optarg;
			break;
		case 'h':
			fputs(cmd_runs_usage, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("runs", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("runs", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("runs", "takes no arguments, got '%s'", argv[optind]);
	state = cli_state_dir(state);

	struct buf err = BUF_INIT;
	struct store *st;
	struct store_run_list l;
	int r = store_open(state, STORE_READONLY, &st, &err);
	if (r == 0) {
		struct store_run_query q = { .limit = (size_t)limit, .pipeline = pipeline, .status = status };
		r = store_find_runs(st, &q, &l, &err);
		store_close(st);
	}
	if (r < 0) {
		fprintf(stderr, "lockstep runs: %s\n", err.s);
		buf_release(&err);
		return EXIT_STORE;
	}
	buf_release(&err);
	if (json)
		report_runs_json(&l, stdout);
	else if (l.n)
		report_runs_text(&l, stdout);
	else if (pipeline || status)
		fprintf(stderr, "lockstep runs: no run in '%s' matches%s%s%s%s\n", state,
			pipeline ? " --pipeline " : "", pipeline ? pipeline : "", status ? " --status " : "",
			status ? status : "");
	else
		fprintf(stderr, "lockstep runs: no runs recorded in '%s'\n", state);
	store_run_list_release(&l);
	return EXIT_OK;
}
