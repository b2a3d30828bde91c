#include "pipeline/model.h"

#include <ctype.h>
#include <string.h>

const char *step_default_run_name(struct arena *a, const char *run)
{
	while (*run == ' ' || *run == '\t' || *run == '\n')
		run++;
	size_t len = strcspn(run, "\n");
	while (len && (run[len - 1] == ' ' || run[len - 1] == '\t' || run[len - 1] == '\r'))
		len--;
	if (!len)
		return "run";
	if (len > 60) {
		/* Cut at 57 bytes without splitting a UTF-8 character. */
		size_t cut = 57;
		while (cut && ((unsigned char)run[cut] & 0xC0) == 0x80)
			cut--;
		return arena_printf(a, "%.*s...", (int)cut, run);
	}
	return arena_strndup(a, run, len);
}

bool name_is_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

const char *step_kind_name(enum step_kind k)
{
	switch (k) {
	case STEP_RUN: return "run";
	case STEP_BARRIER: return "barrier";
	case STEP_WAIT: return "wait";
	case STEP_KIND_COUNT: break;
	}
	return "unknown";
}

const char *on_failure_name(enum on_failure f)
{
	switch (f) {
	case ON_FAILURE_ROLLBACK: return "rollback";
	case ON_FAILURE_STOP: return "stop";
	case ON_FAILURE_IGNORE: return "ignore";
	case ON_FAILURE_ROLLBACK_ALL: return "rollback-all";
	}
	return "unknown";
}
