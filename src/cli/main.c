#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/suggest.h"
#include "cli/cli.h"
#include "cli/report.h"
#include "engine/http.h"
#include "exec/supervise.h"
#include "k8s/k8s.h"
#include "store/store.h"

static const struct command commands[] = {
	{ "check", "validate a pipeline file and find barrier deadlocks", cmd_check },
	{ "plan", "show what a run would execute (text, dot, mermaid, json)", cmd_plan },
	{ "run", "run a pipeline: parallel workflows, barriers, rollbacks", cmd_run },
	{ "runs", "list the runs recorded in the state directory", cmd_runs },
	{ "show", "show one run: workflows, steps, barriers, failure reasons", cmd_show },
	{ "logs", "print the output of a run's steps", cmd_logs },
	{ "resume", "finish an interrupted run (its lockstep run died)", cmd_resume },
	{ "abort", "abort a run and run its rollbacks", cmd_abort },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/*
 * The documentation `make install` put next to this binary:
 * PREFIX/share/doc/lockstep when this is PREFIX/bin/lockstep. False when
 * there is none (a binary in a build tree).
 */
static bool installed_docs(char *dir, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return false;
	exe[len] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	slash = strrchr(exe, '/');
	if (!slash || strcmp(slash, "/bin"))
		return false;
	*slash = '\0';
	struct stat st;
	if ((size_t)snprintf(dir, n, "%s/share/doc/lockstep", exe) >= n)
		return false;
	char readme[PATH_MAX + 16];
	snprintf(readme, sizeof(readme), "%s/README.md", dir);
	return stat(readme, &st) == 0 && S_ISREG(st.st_mode);
}

static void print_help(FILE *out)
{
	fputs("usage: lockstep COMMAND [ARGS...]\n"
	      "       lockstep --version | --help | COMMAND --help\n"
	      "\n"
	      "lockstep runs deployment pipelines whose parallel workflows meet at named\n"
	      "barriers: a barrier holds every workflow that uses it until all have\n"
	      "arrived, and if one fails first, the others fail there and roll back.\n"
	      "\n"
	      "commands:\n",
	      out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "exit codes: 0 ok, 1 run failed (show, logs: no such run), 2 usage error,\n"
	      "            3 invalid pipeline file, 4 state store error, 130 aborted\n",
	      out);
	char dir[PATH_MAX];
	if (installed_docs(dir, sizeof(dir)))
		fprintf(out, "docs: man lockstep; %s/ (docs/cli.md, docs/pipeline-format.md,\n"
			     "      docs/events.md)\n",
			dir);
	else
		fputs("docs: man lockstep; docs/cli.md, docs/pipeline-format.md and docs/events.md\n"
		      "      of the lockstep sources (make install puts them in PREFIX/share/doc/lockstep/)\n",
		      out);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "lockstep%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'lockstep%s%s --help')\n", cmd ? " " : "", cmd ? cmd : "");
	return EXIT_USAGE;
}

bool cli_color(FILE *f)
{
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		return false;
	const char *term = getenv("TERM");
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(fileno(f));
}

int cli_options(const char *cmd, const struct opt *opts, const char *usage, const char *more, int *argc,
		char ***argv)
{
	struct buf b = BUF_INIT;
	int n = opts_parse(opts, *argc - 1, *argv + 1, &b);
	int code = -1;
	if (n == OPTS_HELP) {
		fputs(usage, stdout);
		buf_reset(&b);
		opts_help(opts, &b);
		fputs(b.s, stdout);
		fputs(more, stdout);
		code = EXIT_OK;
	} else if (n < 0) {
		code = cli_usage_error(cmd, "%s", b.s);
	} else {
		*argc = n;
		*argv += 1;
	}
	buf_release(&b);
	return code;
}

/* `last`: the newest run of state directory `state`. */
static int last_run(const char *cmd, const char *state, uint64_t *id)
{
	struct buf err = BUF_INIT;
	struct store *st;
	struct store_run_list l;
	int r = store_open(state, STORE_READONLY, &st, &err);
	if (r == 0) {
		r = store_list_runs(st, 1, &l, &err);
		store_close(st);
	}
	if (r < 0) {
		fprintf(stderr, "lockstep %s: %s\n", cmd, err.s);
		buf_release(&err);
		return EXIT_STORE;
	}
	buf_release(&err);
	int code = -1;
	if (l.n) {
		*id = l.v[0].id;
	} else {
		fprintf(stderr, "lockstep %s: 'last' is the newest run, and %s has no run yet\n", cmd, state);
		code = EXIT_FAILED;
	}
	store_run_list_release(&l);
	return code;
}

int cli_parse_run_id(const char *cmd, const char *arg, const char *state, uint64_t *id)
{
	if (!strcmp(arg, "last"))
		return last_run(cmd, state, id);
	if (report_parse_run_id(arg, id))
		return -1;
	return cli_usage_error(cmd, "'%s' is not a run id: run ids are 1, 2, 3..., or 'last' for the newest run",
			       arg);
}

int cli_want_args(const char *cmd, int argc, int min, int max, const char *what, const char *takes)
{
	if (argc < min)
		return cli_usage_error(cmd, "missing %s", what);
	if (max >= 0 && argc > max)
		return cli_usage_error(cmd, "takes %s, got %d arguments", takes, argc);
	return -1;
}

int cli_check_var(const char *arg, struct buf *why)
{
	const char *eq = strchr(arg, '=');
	if (eq && eq != arg)
		return 0;
	buf_addf(why, "--var takes KEY=VALUE, not '%s'", arg);
	return -1;
}

struct kvlist cli_vars(const struct opt_list *args, struct arena *a)
{
	struct kvlist vars = { NULL, 0 };
	if (!args->n)
		return vars;
	vars.v = arena_array(a, args->n, sizeof(*vars.v));
	vars.n = args->n;
	for (size_t i = 0; i < args->n; i++) {
		const char *arg = args->v[i], *eq = strchr(arg, '=');
		vars.v[i].key = arena_strndup(a, arg, (size_t)(eq - arg));
		vars.v[i].val = arena_strdup(a, eq + 1);
	}
	return vars;
}

const char *cli_state_dir(const char *opt)
{
	if (opt && *opt)
		return opt;
	const char *env = getenv("LOCKSTEP_STATE");
	if (env && *env)
		return env;
	return ".lockstep";
}

int cli_store_exit(int err)
{
	return err == STORE_ENOTFOUND ? EXIT_FAILED : EXIT_STORE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_help(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		if (argc > 2 && strcmp(cmd, "help") == 0) {
			for (size_t i = 0; i < NCOMMANDS; i++) {
				if (!strcmp(argv[2], commands[i].name)) {
					char *help[] = { argv[2], (char *)"--help", NULL };
					return commands[i].fn(2, help);
				}
			}
			return cli_usage_error(NULL, "no command '%s'", argv[2]);
		}
		print_help(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
		printf("lockstep %s\n", LOCKSTEP_VERSION);
		return EXIT_OK;
	}
	/* The Kubernetes steps' helper, run by the engine (not a command). */
	if (!strcmp(cmd, "__k8s"))
		return k8s_main(argc - 1, argv + 1);
	/* A run's supervisor, started by the engine (not a command). */
	if (!strcmp(cmd, "__supervise"))
		return supervise_main(argc - 1, argv + 1);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", cmd);
	static const char *const later[] = { "serve" };
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		if (!strcmp(cmd, later[i]))
			return cli_usage_error(NULL, "'%s' is not available in this version of lockstep yet",
					       cmd);
	const char *names[NCOMMANDS];
	for (size_t i = 0; i < NCOMMANDS; i++)
		names[i] = commands[i].name;
	const char *s = suggest_closest(cmd, names, NCOMMANDS);
	if (s)
		return cli_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", cmd, s);
	return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
