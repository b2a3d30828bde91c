#include <stdio.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/report.h"
#include "store/store.h"

static const char usage[] =
	"usage: lockstep runs [--state DIR] [--json] [--limit N] [--pipeline NAME] [--status STATUS]\n"
	"\n"
	"Lists the runs recorded in the state directory, newest first: id,\n"
	"pipeline, status, start time (local) and duration. A run recorded as\n"
	"running whose lockstep process is gone shows as interrupted.\n"
	"\n"
	"options:\n";

static const char more[] =
	"\n"
	"exit codes: 0 ok, 2 usage error, 4 state store error (including a missing\n"
	"            state directory)\n";

static int check_pipeline(const char *arg, struct buf *why)
{
	if (*arg)
		return 0;
	buf_adds(why, "--pipeline needs a pipeline name");
	return -1;
}

static int check_status(const char *arg, struct buf *why)
{
	if (store_run_status_is_valid(arg))
		return 0;
	buf_addf(why, "bad --status '%s': running, succeeded, failed, aborted or interrupted", arg);
	return -1;
}

int cmd_runs(int argc, char **argv)
{
	const char *state = NULL, *pipeline = NULL, *status = NULL;
	bool json = false;
	uint64_t limit = 0;
	const struct opt opts[] = {
		CLI_OPT_STATE(&state),
		OPT_FLAG(0, "json", &json, "one JSON array of runs on stdout"),
		/* There cannot be more runs than run ids. */
		OPT_NUMBER(0, "limit", &limit, "N", 1, STORE_RUN_ID_MAX, "runs",
			   "only the newest N runs (of those the filters keep)"),
		OPT_CHECKED(0, "pipeline", &pipeline, "NAME", check_pipeline, "only runs of this pipeline"),
		OPT_CHECKED(0, "status", &status, "STATUS", check_status,
			    "only runs in this status: running, succeeded, failed,\n"
			    "aborted or interrupted"),
		OPT_HELP(),
		OPT_END(),
	};
	int rc = cli_options("runs", opts, usage, more, &argc, &argv);
	if (rc >= 0)
		return rc;
	if (argc)
		return cli_usage_error("runs", "takes no arguments, got '%s'", argv[0]);
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
