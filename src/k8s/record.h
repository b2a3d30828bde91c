/*
 * record: what a Kubernetes step attempt did, as a JSON file next to its
 * log, STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.k8s.json. The helper rewrites
 * it (atomically, fsync'd) as it goes:
 *
 *   k8s-rolling:  "applying"  the workloads of its manifests as they were
 *                             before (existing ones: generation, revision)
 *                 "applied"   which of them the apply changed or created
 *                 "done"      outcome, reason, the revisions rolled out
 *   k8s-rollback: "undoing", then "done": what it undid, and to what
 *
 * The engine reads `reason` when the attempt fails. A k8s-rollback reads
 * the k8s-rolling records of its workflow in the same run: what to undo.
 * A record left at "applying" (the helper was killed during the apply)
 * is judged by the workloads' generations now.
 */
#ifndef LS_K8S_RECORD_H
#define LS_K8S_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/xalloc.h"

/* One workload (Deployment, StatefulSet, DaemonSet) a step deals with. */
struct k8s_workload {
	char *kind;               /* "Deployment", "StatefulSet", "DaemonSet" */
	char *ns, *name, *uid;
	char *context;            /* the context kubectl used (resolved), or NULL */
	char *kubeconfig;         /* the kubeconfig file ($KUBECONFIG), or NULL */
	bool existed;             /* before the apply */
	long long generation;     /* before the apply (0: new) */
	long long revision;       /* its revision before the apply (0: new or unknown) */
	char *revision_name;      /* the ReplicaSet or ControllerRevision of `revision` */
	bool changed;             /* the apply changed its spec, or created it */
	long long new_generation;
	long long new_revision;   /* once rolled out (0: not known) */
	int64_t changed_at;       /* wall-clock ms of the apply that changed it */
	char *outcome;            /* "rolled-out", "failed", "undone", "skipped", or NULL */
	char *note;               /* why, for failed or skipped */
};

struct k8s_record {
	char *type;               /* "k8s-rolling" or "k8s-rollback" */
	char *workflow, *step;
	int attempt;
	char *phase;              /* "applying", "applied", "undoing", "done" */
	char *outcome;            /* "succeeded", "failed", or NULL while running */
	char *reason;             /* why it failed, or NULL */
	int64_t started_at;
	VEC(struct k8s_workload) workloads;
};

#define K8S_RECORD_INIT { 0 }

/*
 * Writes the record to `path`: a temporary file, fsync, rename, fsync of
 * the directory, so a reader (or a resumed run) sees the old version or
 * the new one, whole. Returns 0, or -1 with a message in `err`.
 */
int k8s_record_save(const struct k8s_record *r, const char *path, struct buf *err);
/* Reads a record; 0, or -1 with a message in `err` (`r` is then empty). */
int k8s_record_load(const char *path, struct k8s_record *r, struct buf *err);
void k8s_record_release(struct k8s_record *r);
/* Adds a workload (zeroed, strings NULL) and returns it. */
struct k8s_workload *k8s_record_add(struct k8s_record *r);
/* Replaces *field with a copy of `s` (or NULL). */
void k8s_set(char **field, const char *s);

#endif
