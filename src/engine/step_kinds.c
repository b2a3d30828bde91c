#include "engine/run.h"

#include "engine/run_internal.h"

/*
 * step_kinds: the table of step kinds, one row per kind (see struct
 * step_kind_ops in run_internal.h). Everything the run state machine
 * does differently for a kind it reads from the kind's row; the row's
 * functions live in the kind's own file.
 */

/*
 * A kind that runs as a step process (step_run.c) with the command
 * `cmd`; `helper`: the reason lockstep's own helper gives, or NULL.
 */
#define PROCESS_KIND(cmd, helper)                                                              \
	{                                                                                      \
		.holds_process = true, .writes_log = true, .retryable = true,                  \
		.begin = step_run_begin, .resume = step_run_resume, .cancel = step_run_cancel, \
		.command = (cmd), .helper_reason = (helper),                                   \
	}

const struct step_kind_ops step_kinds[STEP_KIND_COUNT] = {
	[STEP_RUN] = PROCESS_KIND(step_run_command, NULL),
	[STEP_BARRIER] = {
		.begin = step_barrier_begin,
		.resume = step_barrier_resume,
		.cancel = step_barrier_cancel,
		.own_failure = step_barrier_own_failure,
	},
	[STEP_WAIT] = {
		.idle = true,
		.begin = step_wait_begin,
		.resume = step_wait_resume,
		.cancel = step_wait_cancel,
	},
	[STEP_HTTP_CHECK] = {
		.writes_log = true,
		.retryable = true,
		.begin = step_http_begin,
		.resume = step_http_resume,
		.cancel = step_http_cancel,
	},
	/* The Kubernetes steps run lockstep's own helper (step_k8s.c). */
	[STEP_K8S_ROLLING] = PROCESS_KIND(step_k8s_command, step_k8s_reason),
	[STEP_K8S_ROLLBACK] = PROCESS_KIND(step_k8s_command, step_k8s_reason),
};

const struct step_kind_ops *wf_kind(const struct wf_run *w)
{
	return &step_kinds[wf_cur_step(w)->src->kind];
}

bool step_kind_writes_log(enum step_kind k)
{
	return (size_t)k < STEP_KIND_COUNT && step_kinds[k].writes_log;
}
