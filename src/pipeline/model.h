/*
 * model: the pipeline as written in its file (struct pipeline) and the
 * concrete plan a run executes (struct plan), after matrix and input
 * expansion.
 *
 * Both are immutable once built and live in one arena each; every string
 * and array below is owned by that arena. Every element keeps the source
 * position of the YAML node it came from, so checks can point at it.
 */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

#define PIPELINE_MAX_BYTES (4u * 1024 * 1024)
#define PLAN_MAX_INSTANCES 100000   /* workflow instances after expansion */
#define DEFAULT_BARRIER_TIMEOUT_MS (10ULL * 60 * 1000)
#define DEFAULT_RETRY_DELAY_MS 1000ULL

struct pos {
	int line, col; /* 1-based; 0 when not known */
};

/* One KEY: VALUE pair of a string map (vars, env, with). */
struct kv {
	const char *key;
	const char *val;
	struct pos key_pos, val_pos;
	bool val_plain_single_line; /* columns inside the value map to the file */
};

struct kvlist {
	struct kv *v;
	size_t n;
};

enum on_failure {
	ON_FAILURE_ROLLBACK, /* workflow default: run the rollback steps */
	ON_FAILURE_STOP,     /* fail without rollback (pipeline default) */
	ON_FAILURE_IGNORE,   /* count as succeeded */
	ON_FAILURE_ROLLBACK_ALL, /* pipeline only: earlier groups roll back too */
};

enum step_kind {
	STEP_RUN,
	STEP_BARRIER,
	STEP_WAIT,
	STEP_KIND_COUNT
};

enum shell_kind { SHELL_SH, SHELL_BASH };

/*
 * A step as written. String fields may contain ${{ }} expressions. The
 * small fields come first so the struct packs tight (a big pipeline has
 * tens of thousands of steps).
 */
struct step {
	enum step_kind kind;
	enum shell_kind shell; /* STEP_RUN */
	int retries;
	bool id_explicit;
	bool name_explicit;
	bool run_plain_single_line;
	bool barrier_plain_single_line;
	bool continue_on_error;
	struct pos pos;        /* the step's mapping (the "-" item) */
	struct pos kind_pos;   /* the value of the kind key */
	struct pos id_pos;
	struct pos name_pos;
	struct pos dir_pos;
	const char *id;        /* explicit or derived ("step-3", "barrier-fe") */
	const char *name;      /* explicit or derived from the kind */
	/* kind-specific */
	const char *run;       /* STEP_RUN: the shell text */
	const char *dir;       /* STEP_RUN: working directory, or NULL */
	const char *barrier;   /* STEP_BARRIER: the id, maybe with expressions */
	uint64_t wait_ms;      /* STEP_WAIT */
	/* common */
	uint64_t timeout_ms;   /* 0: none */
	uint64_t retry_delay_ms;
	struct kvlist env;
};

struct steplist {
	struct step *v;
	size_t n;
};

struct workflow {
	const char *name;
	struct pos pos;          /* the name key */
	const char *description;
	struct kvlist env;
	struct steplist steps;
	struct steplist rollback;
	bool has_rollback;       /* a rollback key was present (maybe empty) */
	struct pos rollback_pos;
	enum on_failure on_failure;
	bool used;               /* named by at least one stage entry */
};

struct matrix_axis {
	const char *key;
	struct pos pos;
	const char **values;
	struct pos *value_pos;
	size_t n;
};

struct stage {
	const char *workflow;    /* name as written */
	struct pos pos;          /* the entry */
	struct pos workflow_pos; /* the workflow name */
	bool parallel;
	struct kvlist with;
	struct matrix_axis *matrix;
	size_t nmatrix;
	struct pos matrix_pos;
	size_t wf;               /* index into pipeline.workflows; SIZE_MAX if unknown */
	bool incomplete;         /* part of its matrix or inputs was rejected */
};

struct barrier_decl {
	const char *id;
	struct pos pos;
	const char *name;        /* display name, or NULL */
	uint64_t timeout_ms;
	bool used;
};

struct pipeline {
	const char *file;        /* as given on the command line */
	const char *name;
	const char *description;
	struct kvlist vars;
	enum on_failure on_failure; /* ON_FAILURE_STOP or ON_FAILURE_ROLLBACK_ALL */
	struct barrier_decl *barriers;
	size_t nbarriers;
	struct stage *stages;
	size_t nstages;
	struct workflow *workflows;
	size_t nworkflows;
	/* The file's text, kept to point into it precisely (expressions). */
	const char *source;
	size_t source_len;
	size_t *line_starts;     /* byte offset of each line; built on demand */
	size_t nlines;
	struct arena arena;
};

/* ---- the plan: concrete workflow instances, groups and barriers ---- */

/* A step with every expression known before the run evaluated. */
struct plan_step {
	const struct step *src;
	const char *id;
	const char *name;
	const char *run;         /* may still contain ${{ run.id }} */
	const char *dir;
	const char *barrier;     /* expanded barrier id (STEP_BARRIER) */
	struct kvlist env;       /* expanded step env */
	size_t barrier_index;    /* into plan.barriers or plan.rollback_barriers */
};

struct plan_workflow {
	const char *name;        /* instance name: deploy[region=eu] */
	const struct workflow *src;
	const struct stage *stage;
	size_t stage_index;
	size_t group;
	struct kvlist matrix;    /* this instance's matrix values */
	struct kvlist inputs;    /* with: values, expanded */
	struct kvlist env;       /* workflow env, expanded */
	struct plan_step *steps;
	size_t nsteps;
	struct plan_step *rollback;
	size_t nrollback;
};

struct plan_barrier_use {
	size_t wf;               /* index into plan.workflows */
	size_t step;             /* index into that workflow's steps or rollback */
};

struct plan_barrier {
	const char *id;
	const char *title;       /* the declaration's name, or NULL */
	uint64_t timeout_ms;
	const struct barrier_decl *decl; /* NULL when undeclared */
	bool rollback;           /* used in rollback lists */
	struct plan_barrier_use *uses;
	size_t nuses;
	size_t group;            /* group of the first participant */
};

struct plan_group {
	size_t *wfs;             /* indexes into plan.workflows */
	size_t n;
};

struct plan {
	const struct pipeline *pipeline;
	struct kvlist vars;      /* after --var overrides */
	struct plan_group *groups;
	size_t ngroups;
	struct plan_workflow *workflows;
	size_t nworkflows;
	struct plan_barrier *barriers;          /* from steps lists */
	size_t nbarriers;
	struct plan_barrier *rollback_barriers; /* from rollback lists */
	size_t nrollback_barriers;
	struct arena arena;
};

/*
 * True for the names of pipelines and workflows and for barrier ids:
 * [A-Za-z0-9._-]+.
 */
bool name_is_valid(const char *s);
/* Never NULL; spelled as in pipeline files. */
const char *step_kind_name(enum step_kind k);
/*
 * The default display name of a run step: the first line of its command,
 * cut to 60 characters with "..." (allocated in `a`).
 */
const char *step_default_run_name(struct arena *a, const char *run);
const char *on_failure_name(enum on_failure f);

#endif
