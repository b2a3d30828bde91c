/*
 * kubectl: runs the real kubectl synchronously, for the Kubernetes step
 * helper (`lockstep __k8s`, see k8s.h). This runs in the step's process,
 * never in the run's event loop: one command at a time, its output
 * captured (and, for the commands that act, copied to the step's log as
 * it comes), every call bounded by the step's deadline.
 *
 * kubectl runs in the helper's process group, so the engine's timeout and
 * abort (SIGTERM, then SIGKILL, to the group) reach it too.
 */
#ifndef LS_K8S_KUBECTL_H
#define LS_K8S_KUBECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* The most kubectl output kept per stream; more fails the call. */
#define KUBECTL_MAX_OUTPUT (64u * 1024 * 1024)

struct kubectl {
	const char *path;         /* the kubectl binary */
	const char *kubeconfig;   /* $KUBECONFIG for kubectl (a file or a list), or NULL: inherited */
	const char *context;      /* --context, or NULL (the kubeconfig's current context) */
	uint64_t deadline_ms;     /* on clock_mono_ms()'s clock (base/clock.h); calls are killed then */
};

struct kubectl_out {
	int status;               /* exit status; -1 when it did not run or was killed */
	bool timed_out;           /* killed at the deadline */
	struct buf out, err;      /* stdout and stderr */
};

#define KUBECTL_OUT_INIT { -1, false, BUF_INIT, BUF_INIT }

/*
 * Runs `kubectl [--context C] ARGS...` (`args`
 * NULL-terminated). With `echo`, prints the command line first and copies
 * its output to this process's stdout and stderr as it arrives (the
 * step's log). Returns 0 when it ran to the end (whatever its status),
 * -1 when it could not be started, was killed at the deadline, or wrote
 * more than KUBECTL_MAX_OUTPUT; `res->err` then says why.
 */
int kubectl_run(const struct kubectl *k, const char *const *args, bool echo,
		struct kubectl_out *res);
void kubectl_out_release(struct kubectl_out *res);
/* The first non-empty line of `s` without a leading "error: ", into `out`. */
void kubectl_first_line(const char *s, struct buf *out);

/*
 * A duration for people: "2m", "45s"; above 10 s rounded to the second
 * (the step's time left is never a round number).
 */
void k8s_duration(uint64_t ms, char *out, size_t n);

#endif
