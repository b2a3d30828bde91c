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
/* What expansion may make in all (pipeline/plan_size.h says how it is counted). */
#define PLAN_MAX_STEPS 1000000      /* steps and rollback steps of all instances */
#define PLAN_MAX_TEXT_BYTES (256ULL << 20)
#define PLAN_ENTRY_BYTES 64         /* an entry of a map or list copied per instance */
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
	STEP_HTTP_CHECK,
	STEP_K8S_ROLLING,
	STEP_K8S_ROLLBACK,
	STEP_KIND_COUNT
};

enum shell_kind { SHELL_SH, SHELL_BASH };

/* Defaults and bounds of http-check steps (docs/pipeline-format.md). */
#define HTTP_DEFAULT_INTERVAL_MS 2000ULL
#define HTTP_DEFAULT_WITHIN_MS 60000ULL
#define HTTP_DEFAULT_REQUEST_TIMEOUT_MS 10000ULL
#define HTTP_MAX_STATUS_RANGES 32
/*
 * Bounds of an expect-body pattern, checked before regcomp sees it.
 * glibc's regcomp recurses once per nested group (20,000 of them overflow
 * an 8 MB stack), and its time and memory grow faster than linearly with
 * the size of the pattern once bounded repetitions are copied out:
 * 'a{1,32767}' takes seconds, '(a{1,1000}){1,1000}' gigabytes. The engine
 * compiles the pattern again at every check. Elements are what
 * http_body_regex_error() counts: a character, an escape, a bracket
 * expression, a group, an operator; a piece repeated {n} or {m,n} counts n
 * times (m + 1 times for {m,}).
 */
#define HTTP_BODY_MAX_DEPTH 32
#define HTTP_BODY_MAX_ELEMENTS 1000
/*
 * What `check` compiles in all for one plan: the elements of its distinct
 * expanded expect-body patterns. A matrix can give each of its 100,000
 * instances a pattern of its own; compiling all of them near the bound
 * would take minutes.
 */
#define HTTP_BODY_MAX_PLAN_ELEMENTS 2000000

/* One accepted range of HTTP statuses, lo..hi inclusive (100..599). */
struct status_range {
	int lo, hi;
};

/*
 * An http-check step as written. `url`, `expect_body` and the header values
 * may contain ${{ }} expressions (`expect_body` not ${{ run.id }});
 * `expect_body` is a POSIX extended regex, compiled when the file was
 * loaded or, with expressions, once they are known (expand.c).
 */
struct http_check {
	const char *url;
	struct pos url_pos;
	bool url_plain_single_line;
	const struct status_range *status; /* never empty: the default is 200..399 */
	size_t nstatus;
	const char *expect_body;           /* NULL: any body */
	struct pos body_pos;
	bool body_plain_single_line;
	uint64_t interval_ms;
	uint64_t within_ms;                /* > 0 */
	uint64_t request_timeout_ms;       /* > 0 */
	struct kvlist headers;             /* name -> value, in file order */
};

/* Kubernetes steps (docs/pipeline-format.md, k8s-rolling and k8s-rollback). */
#define K8S_DEFAULT_TIMEOUT_MS (10ULL * 60 * 1000) /* a step without timeout: */
#define K8S_MAX_MANIFESTS 1000                    /* files per k8s-rolling step */
#define K8S_MAX_MANIFEST_BYTES (4u * 1024 * 1024) /* per manifest file */

/*
 * A k8s-rolling step as written. Manifest paths, the namespace and the
 * context may contain ${{ }} expressions (not ${{ run.id }}); NULL
 * namespace or context: the environment's.
 */
struct k8s_rolling {
	const char **manifests;            /* files, directories or globs */
	struct pos *manifest_pos;
	size_t nmanifests;
	const char *kube_namespace;
	const char *kube_context;
	struct pos namespace_pos, context_pos;
};

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
	bool implicit;         /* the default rollback of k8s-rolling steps, not written */
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
	union {
		const struct http_check *http; /* STEP_HTTP_CHECK */
		const struct k8s_rolling *k8s; /* STEP_K8S_ROLLING */
	};
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
	const char *environment; /* environment: NAME as written (maybe with ${{ }}), or NULL */
	struct pos environment_pos;
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
	const char *environment; /* environment: NAME as written, or NULL: the workflow's */
	struct pos environment_pos;
	size_t wf;               /* index into pipeline.workflows; SIZE_MAX if unknown */
	bool incomplete;         /* part of its matrix or inputs was rejected */
};

struct barrier_decl {
	const char *id;
	struct pos pos;
	const char *name;        /* display name, or NULL */
	uint64_t timeout_ms;
	signed char fail_fast;   /* fail-fast: 1 or 0; -1: the pipeline's default */
	bool used;
};

/*
 * A declared environment: where workflows deploy to. Its string fields
 * may hold ${{ vars.X }} and ${{ pipeline.name }}; its env values may
 * hold ${{ run.id }} too. Fields not given are NULL.
 */
struct environment {
	const char *name;
	struct pos pos;          /* the name key */
	const char *description;
	bool has_kubernetes;     /* a kubernetes: mapping was given */
	struct pos kubernetes_pos;
	const char *kube_context;
	const char *kube_namespace;
	const char *kubeconfig;  /* relative to the pipeline file's directory unless absolute */
	struct pos kube_context_pos, kube_namespace_pos, kubeconfig_pos;
	struct kvlist env;
};

/*
 * A declared secret: its value is never in the file; it comes from the
 * environment or a secrets file when a run starts (pipeline/secrets.h).
 */
struct secret_decl {
	const char *name;        /* [A-Za-z_][A-Za-z0-9_-]* */
	struct pos pos;          /* the name key */
	const char *description; /* or NULL */
	bool required;           /* default true: a run without its value does not start */
};

struct pipeline {
	const char *file;        /* as given on the command line */
	const char *name;
	const char *description;
	struct kvlist vars;
	struct secret_decl *secrets;
	size_t nsecrets;
	enum on_failure on_failure; /* ON_FAILURE_STOP or ON_FAILURE_ROLLBACK_ALL */
	bool fail_fast;          /* the barriers' default fail-fast (false) */
	struct barrier_decl *barriers;
	size_t nbarriers;
	struct environment *environments;
	size_t nenvironments;
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
	union {
		const struct plan_http *http; /* STEP_HTTP_CHECK */
		const struct plan_k8s *k8s;   /* STEP_K8S_ROLLING */
	};
};

/*
 * A k8s-rolling step of one instance: manifest paths with expressions
 * evaluated, and where it deploys: the step's namespace and context, else
 * its environment's (NULL: kubectl's defaults, from the kubeconfig).
 */
struct plan_k8s {
	const char **manifests;
	size_t nmanifests;
	const char *kube_namespace;
	const char *kube_context;
	bool namespace_from_step;   /* the step gave it, not the environment */
	bool context_from_step;
};

/* An http-check step's url and headers, expressions evaluated. */
struct plan_http {
	const char *url;         /* may still contain ${{ run.id }} */
	const char *expect_body; /* NULL: any body; expressions evaluated */
	struct kvlist headers;   /* values may still contain ${{ run.id }} */
};

/*
 * An environment with its expressions evaluated: one per declared
 * environment, shared by the instances that run in it.
 */
struct plan_environment {
	const struct environment *src;
	const char *name;
	const char *kube_context;   /* NULL when not given */
	const char *kube_namespace; /* NULL when not given */
	const char *kubeconfig;     /* as written: relative to the pipeline file's directory */
	struct kvlist env;          /* may still contain ${{ run.id }} */
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
	/* The stage entry's environment, else the workflow's; NULL: none. */
	const struct plan_environment *environment;
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
	/* When it breaks, participants on their way stop their current step
	 * at once (steps lists only: a rollback is never cut short). */
	bool fail_fast;
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
	struct plan_environment *environments;  /* as pipeline.environments, same order */
	size_t nenvironments;
	/*
	 * The kubectl that Kubernetes steps run (an absolute path), found by
	 * plan_check_resources(); NULL when no step needs it or it was not
	 * checked.
	 */
	const char *kubectl;
	struct arena arena;
};

/*
 * True for the names of pipelines and workflows and for barrier ids:
 * [A-Za-z0-9._-]+.
 */
bool name_is_valid(const char *s);
/*
 * True for a Kubernetes namespace name (an RFC 1123 label): lowercase
 * letters, digits and '-', starting and ending with a letter or digit, at
 * most 63 characters.
 */
bool kube_namespace_is_valid(const char *s);
/* Never NULL; spelled as in pipeline files. */
const char *step_kind_name(enum step_kind k);
/* The kind spelled `name` (as step_kind_name spells it); false when there is none. */
bool step_kind_parse(const char *name, enum step_kind *out);
/*
 * The default display name of a run step: the first line of its command,
 * cut to 60 characters with "..." (allocated in `a`).
 */
const char *step_default_run_name(struct arena *a, const char *run);
/* The default display name of an http-check step: "http-check URL", cut the same way. */
const char *step_default_http_name(struct arena *a, const char *url);
/* The default display name of a k8s-rolling step: "k8s-rolling M1, M2", cut the same way. */
const char *step_default_k8s_name(struct arena *a, const char *const *manifests, size_t n);
const char *on_failure_name(enum on_failure f);

/*
 * Parses one accepted-status item of an http-check: a status "503" or a
 * range "200..399", each status from 100 to 599. Returns 0, or -1 with a
 * short reason in `why`.
 */
int http_status_parse(const char *s, struct status_range *out, const char **why);
/* Appends "200..399" or "200, 204, 300..399" to `b`. */
struct buf;
void http_status_format(const struct status_range *v, size_t n, struct buf *b);
/* True when `status` is in one of the ranges. */
bool http_status_matches(const struct status_range *v, size_t n, long status);
/*
 * Checks the shape of an http-check url with no expressions left:
 * http:// or https://, a host, an optional :PORT from 1 to 65535
 * (decimal digits only), no spaces or control characters. Returns 0, or
 * -1 with a short reason in `why`.
 */
int http_url_check(const char *url, const char **why);
/*
 * Compiles an expect-body pattern (POSIX extended) to see that it is one.
 * Returns false when it compiles; true, with regerror's text in `msg`,
 * when it does not, or with the bound it passes when it nests groups
 * deeper than HTTP_BODY_MAX_DEPTH or has more than HTTP_BODY_MAX_ELEMENTS
 * elements (then it is not compiled at all).
 */
bool http_body_regex_error(const char *re, char *msg, size_t size);
/* The same, and how many elements the pattern has (as counted for the bound). */
bool http_body_regex_error_size(const char *re, size_t *elements, char *msg, size_t size);

#endif
