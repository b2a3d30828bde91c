#include "base/opts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/num.h"
#include "base/suggest.h"
#include "base/xalloc.h"

void opt_list_release(struct opt_list *l)
{
	VEC_FREE(*l);
}

static bool takes_value(const struct opt *o)
{
	return o->kind != OPT_KIND_FLAG && o->kind != OPT_KIND_HELP;
}

/* Stores `arg`, the value of `o` (NULL for a flag). Returns 0, OPTS_HELP or OPTS_ERROR. */
static int take(const struct opt *o, const char *arg, struct buf *err)
{
	uint64_t v;
	const char *why;
	switch (o->kind) {
	case OPT_KIND_FLAG:
		*(bool *)o->value = true;
		return 0;
	case OPT_KIND_HELP:
		return OPTS_HELP;
	case OPT_KIND_STRING:
	case OPT_KIND_LIST:
		if (o->check && o->check(arg, err) < 0)
			return OPTS_ERROR;
		if (o->kind == OPT_KIND_STRING)
			*(const char **)o->value = arg;
		else
			*VEC_PUSH(*(struct opt_list *)o->value) = arg;
		return 0;
	case OPT_KIND_NUMBER:
		if (num_parse(arg, o->min, o->max, o->value, NULL) == 0)
			return 0;
		buf_addf(err, "bad --%s '%s': a whole number of %s from %llu to %llu, in digits", o->name, arg,
			 o->what, (unsigned long long)o->min, (unsigned long long)o->max);
		return OPTS_ERROR;
	case OPT_KIND_DURATION:
		if (duration_parse(arg, &v, &why) < 0) {
			buf_addf(err, "bad --%s '%s': %s", o->name, arg, why);
			return OPTS_ERROR;
		}
		if (v >= o->min && v <= o->max) {
			*(uint64_t *)o->value = v;
			return 0;
		}
		char limit[32];
		duration_format(v < o->min ? o->min : o->max, limit, sizeof(limit));
		buf_addf(err, "bad --%s '%s': at %s %s", o->name, arg, v < o->min ? "least" : "most", limit);
		if (o->what)
			buf_addf(err, " (%s)", o->what);
		return OPTS_ERROR;
	}
	buf_addf(err, "option '--%s': a table row of no known kind", o->name);
	return OPTS_ERROR;
}

/*
 * "unknown option 'GIVEN'", and the long option the first `len` bytes of
 * `word` may have meant: itself ("-json" for "--json"), else the closest.
 */
static int unknown(const struct opt *opts, const char *given, const char *word, size_t len, struct buf *err)
{
	buf_addf(err, "unknown option '%s'", given);
	size_t n = 0;
	while (opts[n].name)
		n++;
	const char **names = xcalloc(n ? n : 1, sizeof(*names));
	char *w = xstrndup(word, len);
	const char *near = NULL;
	for (size_t i = 0; i < n; i++) {
		names[i] = opts[i].name;
		if (!strcmp(names[i], w))
			near = names[i];
	}
	if (!near)
		near = suggest_closest(w, names, n);
	if (near)
		buf_addf(err, "; did you mean '--%s'?", near);
	free(w);
	free(names);
	return OPTS_ERROR;
}

/*
 * The row of the long option the first `len` bytes of `name` name: the
 * option of that name, else the only one whose name starts with them.
 * NULL after a message.
 */
static const struct opt *find_long(const struct opt *opts, const char *given, const char *name, size_t len,
				   struct buf *err)
{
	const struct opt *start = NULL;
	size_t nstart = 0;
	for (const struct opt *o = opts; o->name && len; o++) {
		if (strncmp(o->name, name, len))
			continue;
		if (!o->name[len])
			return o;
		if (!nstart++)
			start = o;
	}
	if (nstart == 1)
		return start;
	if (!nstart) {
		unknown(opts, given, name, len, err);
		return NULL;
	}
	buf_addf(err, "option '--%.*s' is ambiguous: ", (int)len, name);
	size_t k = 0;
	for (const struct opt *o = opts; o->name; o++) {
		if (strncmp(o->name, name, len))
			continue;
		k++;
		buf_addf(err, "%s'--%s'", k == 1 ? "" : k == nstart ? " or " : ", ", o->name);
	}
	return NULL;
}

/* --name, --name=VALUE, --name VALUE: argv[*i], and its value after it. */
static int long_option(const struct opt *opts, int argc, char **argv, int *i, struct buf *err)
{
	const char *given = argv[*i], *name = given + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt *o = find_long(opts, given, name, len, err);
	if (!o)
		return OPTS_ERROR;
	if (!takes_value(o)) {
		if (!eq)
			return take(o, NULL, err);
		buf_addf(err, "option '--%.*s' takes no value", (int)len, name);
		return OPTS_ERROR;
	}
	if (eq)
		return take(o, eq + 1, err);
	if (*i + 1 >= argc) {
		buf_addf(err, "option '%s' needs a value", given);
		return OPTS_ERROR;
	}
	return take(o, argv[++*i], err);
}

/* -a, -ab, -f VALUE, -fVALUE: argv[*i], and its value after it. */
static int short_options(const struct opt *opts, int argc, char **argv, int *i, struct buf *err)
{
	const char *given = argv[*i];
	for (const char *p = given + 1; *p; p++) {
		const struct opt *o = opts;
		while (o->name && o->short_name != *p)
			o++;
		if (!o->name)
			return unknown(opts, given, given + 1, strlen(given + 1), err);
		if (!takes_value(o)) {
			int r = take(o, NULL, err);
			if (r < 0)
				return r;
			continue;
		}
		if (p[1])
			return take(o, p + 1, err);
		if (*i + 1 >= argc) {
			buf_addf(err, "option '-%c' needs a value", *p);
			return OPTS_ERROR;
		}
		return take(o, argv[++*i], err);
	}
	return 0;
}

int opts_parse(const struct opt *opts, int argc, char **argv, struct buf *err)
{
	int nargs = 0;
	bool only_args = false;
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		/* An argument moves down over the options before it, never past
		 * a word not yet read: nargs <= i. */
		if (only_args || a[0] != '-' || !a[1]) {
			argv[nargs++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		int r = a[1] == '-' ? long_option(opts, argc, argv, &i, err)
				    : short_options(opts, argc, argv, &i, err);
		if (r < 0)
			return r;
	}
	return nargs;
}

/* "  -f, --format FORMAT" */
static void add_label(const struct opt *o, struct buf *out)
{
	buf_adds(out, "  ");
	if (o->short_name)
		buf_addf(out, "-%c, ", o->short_name);
	buf_addf(out, "--%s", o->name);
	if (o->arg)
		buf_addf(out, " %s", o->arg);
}

void opts_help(const struct opt *opts, struct buf *out)
{
	size_t width = 0;
	struct buf label = BUF_INIT;
	for (const struct opt *o = opts; o->name; o++) {
		buf_reset(&label);
		add_label(o, &label);
		if (label.len > width)
			width = label.len;
	}
	buf_release(&label);
	for (const struct opt *o = opts; o->name; o++) {
		size_t line_start = out->len;
		add_label(o, out);
		const char *line = o->help;
		for (;;) {
			const char *nl = strchr(line, '\n');
			while (out->len - line_start < width + 3)
				buf_addc(out, ' ');
			buf_add(out, line, nl ? (size_t)(nl - line) : strlen(line));
			buf_addc(out, '\n');
			if (!nl)
				break;
			line = nl + 1;
			line_start = out->len;
		}
	}
}
