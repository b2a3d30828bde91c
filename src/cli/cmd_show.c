#include <stdio.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/recorded.h"
#include "cli/show.h"
#include "store/store.h"

static const char usage[] =
	"usage: lockstep show RUN [--state DIR] [--json]\n"
	"\n"
	"Shows one recorded run: each workflow with its status, duration and\n"
	"reason; its steps with status, exit code, duration and attempts; each\n"
	"barrier with its participants, their arrival times and its outcome;\n"
	"and the failure chain (who failed, which barriers that broke, who\n"
	"failed there). RUN is a run id as listed by `lockstep runs`, or `last`\n"
	"for the newest run of the state directory.\n"
	"\n"
	"options:\n";

static const char more[] =
	"\n"
	"exit codes: 0 ok, 1 no such run (or no run at all for `last`), 2 usage\n"
	"            error (RUN is not a run id),\n"
	"            4 state store error (including a missing state directory)\n";

int cmd_show(int argc, char **argv)
{
	const char *state = NULL;
	bool json = false;
	const struct opt opts[] = {
		CLI_OPT_STATE(&state),
		OPT_FLAG(0, "json", &json, "one JSON document: the same facts, and the run's events\n"
					   "exactly as `lockstep run --json` printed them"),
		OPT_HELP(),
		OPT_END(),
	};
	int rc = cli_options("show", opts, usage, more, &argc, &argv);
	if (rc < 0)
		rc = cli_want_args("show", argc, 1, 1, "RUN", "one RUN");
	if (rc >= 0)
		return rc;
	state = cli_state_dir(state);
	uint64_t id;
	rc = cli_parse_run_id("show", argv[0], state, &id);
	if (rc >= 0)
		return rc;

	struct buf err = BUF_INIT;
	struct store *st;
	struct store_run run;
	int r = store_open(state, STORE_READONLY, &st, &err);
	if (r == 0) {
		r = store_load_run(st, id, STORE_LOAD_EVENTS, &run, &err);
		store_close(st);
	}
	if (r < 0) {
		fprintf(stderr, "lockstep show: %s\n", err.s);
		buf_release(&err);
		return cli_store_exit(r);
	}
	buf_release(&err);
	/* Everything but the run's own facts is what its events add up to. */
	struct run_view *v = recorded_view_load(&run);
	if (json)
		show_json(&run, v, stdout);
	else
		show_text(&run.info, v, stdout);
	view_free(v);
	store_run_release(&run);
	return EXIT_OK;
}
