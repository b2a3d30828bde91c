/*
 * opts: command-line options from a table, one table per command (git's
 * parse-options is the model). Each row names an option, says what kind
 * of value it takes and where that goes, and carries the option's help
 * line; one parser reads every command line, and the help's list of
 * options is written from the same rows.
 *
 * What the parser accepts:
 *   --name VALUE, --name=VALUE     an option that takes a value
 *   -n VALUE, -nVALUE              the same by its short name
 *   -ab                            short flags together (-a -b)
 *   --na                           an unambiguous start of a long name
 *   options before, between and after the other arguments; `--` ends the
 *   options (what follows is arguments, even "-x"); `-` alone is an
 *   argument (standard input)
 * A value is taken as it is, even when it starts with '-' (`--max-log
 * -5` is a bad --max-log, not an unknown option -5).
 */
#ifndef LS_OPTS_H
#define LS_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum opt_kind {
	OPT_KIND_FLAG,     /* bool *: set when given */
	OPT_KIND_STRING,   /* const char **: the value (borrowed from argv); the last one wins */
	OPT_KIND_NUMBER,   /* uint64_t *: decimal digits (base/num.h), from min to max */
	OPT_KIND_DURATION, /* uint64_t *: milliseconds (base/duration.h), from min to max */
	OPT_KIND_LIST,     /* struct opt_list *: every value, in order (a repeatable option) */
	OPT_KIND_HELP,     /* no value: the parse stops and returns OPTS_HELP */
};

struct opt {
	const char *name;     /* the long name, without "--"; NULL ends a table */
	char short_name;      /* 'f' for -f, or 0 */
	enum opt_kind kind;
	void *value;          /* where the value goes: the type its kind says */
	const char *arg;      /* the value's name in the help ("BYTES"); NULL for flags */
	const char *help;     /* the help text: lines separated by '\n', no newline at the end */
	uint64_t min, max;    /* numbers and durations: the range, both included */
	/*
	 * In the message for a value out of range. A number: what it counts,
	 * plural ("a whole number of bytes from 1 to 10"). A duration: a note
	 * after the range, or NULL ("at most 1h (0 kills at once)").
	 */
	const char *what;
	/*
	 * Strings and lists, or NULL: refuses a value with -1 and the whole
	 * message in `why` ("--var takes KEY=VALUE, not 'x'"); 0 takes it.
	 */
	int (*check)(const char *arg, struct buf *why);
};

/*
 * The values of an OPT_KIND_LIST option, borrowed from argv, in a VEC
 * (base/xalloc.h) that the caller frees with opt_list_release.
 */
struct opt_list {
	const char **v;
	size_t n, cap;
};
#define OPT_LIST_INIT { NULL, 0, 0 }
void opt_list_release(struct opt_list *l);

/* Table rows: S the short name or 0, L the long name, V where the value goes. */
#define OPT_FLAG(S, L, V, HELP) \
	{ .name = (L), .short_name = (S), .kind = OPT_KIND_FLAG, .value = (V), .help = (HELP) }
#define OPT_STRING(S, L, V, ARG, HELP) \
	{ .name = (L), .short_name = (S), .kind = OPT_KIND_STRING, .value = (V), .arg = (ARG), .help = (HELP) }
/* A string that CHECK may refuse. */
#define OPT_CHECKED(S, L, V, ARG, CHECK, HELP)                                                               \
	{ .name = (L), .short_name = (S), .kind = OPT_KIND_STRING, .value = (V), .arg = (ARG), .help = (HELP), \
	  .check = (CHECK) }
#define OPT_NUMBER(S, L, V, ARG, MIN, MAX, WHAT, HELP)                                                       \
	{ .name = (L), .short_name = (S), .kind = OPT_KIND_NUMBER, .value = (V), .arg = (ARG), .help = (HELP), \
	  .min = (MIN), .max = (MAX), .what = (WHAT) }
#define OPT_DURATION(S, L, V, ARG, MIN, MAX, NOTE, HELP)                                                       \
	{ .name = (L), .short_name = (S), .kind = OPT_KIND_DURATION, .value = (V), .arg = (ARG), .help = (HELP), \
	  .min = (MIN), .max = (MAX), .what = (NOTE) }
#define OPT_LIST(S, L, V, ARG, CHECK, HELP)                                                                \
	{ .name = (L), .short_name = (S), .kind = OPT_KIND_LIST, .value = (V), .arg = (ARG), .help = (HELP), \
	  .check = (CHECK) }
/* -h, --help. */
#define OPT_HELP() { .name = "help", .short_name = 'h', .kind = OPT_KIND_HELP, .help = "show this help" }
#define OPT_END() { .name = NULL }

/* What opts_parse returns besides a count of arguments. */
#define OPTS_ERROR (-1)
#define OPTS_HELP (-2)

/*
 * Parses the options of `argv[0..argc)` (the words after the command's
 * name) by table `opts` (borrowed), storing each value where its row
 * says, in the order given. Returns how many arguments are left: they
 * are moved to argv[0..n), in their order. Returns OPTS_HELP at a help
 * option (options after it are not read), or OPTS_ERROR with one line in
 * `err` (no newline) at the first problem:
 *   unknown option '--jsn'; did you mean '--json'?
 *   option '--var' needs a value
 *   option '--json' takes no value
 *   option '--max' is ambiguous: '--max-log' or '--max-parallel'
 *   bad --max-log '-5': a whole number of bytes from 1 to 1099511627776, in digits
 *   bad --kill-grace '2h': at most 1h (0 kills at once)
 *   what a row's check says
 * Values stored before an error or help stay stored.
 */
int opts_parse(const struct opt *opts, int argc, char **argv, struct buf *err);

/*
 * Appends the help's list of options, in the table's order: a line per
 * option, "  -f, --format FORMAT   TEXT", the texts in one column three
 * spaces to the right of the longest option, a text's further lines in
 * the same column.
 */
void opts_help(const struct opt *opts, struct buf *out);

#endif
