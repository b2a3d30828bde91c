#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/recorded.h"
#include "cli/show.h"
#include "store/store.h"

const char cmd_show_usage[] =
	"usage: lockstep show RUN [--state DIR] [--json]\n"
	"\n"
	"Shows one recorded run: each workflow with its status, duration and\n"
	"reason; its steps with status, exit code, duration and attempts; each\n"
	"barrier with its participants, their arrival times and its outcome;\n"
	"and the failure chain (who failed, which barriers that broke, who\n"
	"failed there). RUN is a run id as listed by `lockstep runs`, or `last`\n"
	"for the newest run of the state directory.\n"
	"\n"
	"options:\n"
	"  --state DIR    state directory (default $LOCKSTEP_STATE, else ./.lockstep)\n"
	"  --json         one JSON document: the same facts, and the run's events\n"
	"                 exactly as `lockstep run --json` printed them\n"
	"  -h, --help     show this help\n"
	"\n"
	"exit codes: 0 ok, 1 no such run (or no run at all for `last`), 2 usage\n"
	"            error (RUN is not a run id),\n"
	"            4 state store error (including a missing state directory)\n";

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL;
	bool json = false;
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
		case 'h':
			fputs(cmd_show_usage, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("show", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("show", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("show", "missing RUN");
	if (argc - optind > 1)
		return cli_usage_error("show", "takes one RUN, got %d arguments", argc - optind);
	state = cli_state_dir(state);
	uint64_t id;
	int rc = cli_parse_run_id("show", argv[optind], state, &id);
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
