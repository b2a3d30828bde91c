#include "pipeline/model.h"

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
