/*
 * k8s: the Kubernetes step helper, `lockstep __k8s --spec FILE`, a hidden
 * mode of the lockstep binary (not in --help). The engine runs it as the
 * process of a k8s-rolling or k8s-rollback step attempt (engine/step_k8s.c),
 * so logs, timeouts, abort, kill grace, retries and resume treat it like a
 * run step. It reads what to do from the spec file, calls kubectl one
 * command at a time (kubectl.h), prints progress to stdout (the step's
 * log) and keeps its record of what it changed (record.h).
 *
 *   k8s-rolling   resolve and render the manifests -> read the workloads
 *                 they hold (generation, revision) -> record ->
 *                 kubectl apply -> read them again: changed = new, or
 *                 generation moved -> record -> rollout status of each
 *                 changed one (and of those earlier attempts of the step
 *                 changed) -> record the outcome
 *   k8s-rollback  read the k8s-rolling records of its workflow in this run
 *                 -> for each changed workload, newest first: rollout
 *                 undo to the revision it had before the run changed it
 *                 -> rollout status of each -> record the outcome
 *
 * Exit status: 0 the step succeeded, 1 it failed (the reason is in the
 * result file), 2 the spec could not be used.
 */
#ifndef LS_K8S_H
#define LS_K8S_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The hidden command: `lockstep __k8s --spec FILE`. Returns the exit status. */
int k8s_main(int argc, char **argv);

/* The spec the engine wrote (step_k8s.c), borrowed from its JSON. */
struct k8s_spec {
	json_t *root;
	const char *mode;          /* "rolling" or "rollback" */
	const char *kubectl;
	const char *workflow, *step;
	int attempt;
	uint64_t timeout_ms;       /* what is left of the step's timeout, or the default */
	bool timeout_default;      /* the step has no timeout: the helper bounds itself */
	const char *records_dir;   /* the workflow's log directory */
	const char *result;        /* this attempt's record */
	/* rolling */
	const char *ns, *context;
	const char *render_dir;
	json_t *manifests;         /* array of strings */
	json_t *scope;             /* run_id, pipeline, workflow, vars, inputs, matrix */
	/* rollback */
	json_t *rolling_steps;     /* array of step ids */
	/* set by k8s_main */
	uint64_t deadline_ms;      /* on clock_mono_ms()'s clock */
};

int k8s_rolling(const struct k8s_spec *s);
int k8s_rollback(const struct k8s_spec *s);

/* A line of progress for the step's log. */
void k8s_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
