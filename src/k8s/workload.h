/*
 * workload: what the Kubernetes step helper knows about workloads
 * (Deployments, StatefulSets, DaemonSets) through kubectl: which objects
 * of a manifest are workloads, their current revision and where it is
 * kept (a ReplicaSet or a ControllerRevision), and waiting for a rollout
 * with the workload's own reason when it does not complete.
 */
#ifndef LS_K8S_WORKLOAD_H
#define LS_K8S_WORKLOAD_H

#include <jansson.h>

#include "base/buf.h"
#include "k8s/kubectl.h"

/*
 * The objects of `kubectl get -o json` output: nothing (no object), one
 * object, or a List. Returns a new JSON array, or NULL with a message in
 * `err` when the text is not JSON.
 */
json_t *k8s_objects(const char *text, struct buf *err);
/* The string at a path of keys (NULL-terminated), or NULL. */
const char *k8s_str(json_t *o, ...) __attribute__((sentinel));
/* The integer at a path of keys (NULL-terminated), or 0. */
long long k8s_int(json_t *o, ...) __attribute__((sentinel));

/*
 * The kind of a workload object ("Deployment", "StatefulSet",
 * "DaemonSet", of API group apps), or NULL for any other object.
 */
const char *k8s_workload_kind(json_t *obj);
/* "deployment", "statefulset" or "daemonset": how kubectl names the kind. */
const char *k8s_resource_of(const char *kind);

/*
 * The revision a workload runs (for a Deployment: its revision
 * annotation; for a StatefulSet: the ControllerRevision of its
 * updateRevision; for a DaemonSet: its newest ControllerRevision) and the
 * name of the ReplicaSet or ControllerRevision that holds it, found among
 * the objects the workload (`uid`) owns in namespace `ns`. 0 and NULL when
 * it has none yet. Returns 0, or -1 with a message in `err`.
 */
int k8s_current_revision(const struct kubectl *k, json_t *obj, long long *rev, char **rev_name,
			 struct buf *err);
/*
 * The revision number that the ReplicaSet or ControllerRevision
 * `rev_name`, owned by workload `uid`, has now (a rollback renumbers the
 * revision it returns to), or 0 when the workload no longer has it.
 * Returns 0, or -1 with a message in `err`.
 */
int k8s_revision_number(const struct kubectl *k, const char *kind, const char *ns, const char *uid,
			const char *rev_name, long long *rev, struct buf *err);

/*
 * Waits for the rollout of KIND/NAME in `ns` to complete, with kubectl
 * rollout status bounded by the deadline (its progress copied to the
 * log). Returns 0 when it completed; -1 otherwise, with the workload's
 * own reason in `reason`: "deployment/web in shop: ProgressDeadlineExceeded:
 * pod web-7c9f: ImagePullBackOff: Back-off pulling image "web:bad"", or
 * "... not rolled out within 2m (1 of 2 updated pods ready): pod ...".
 */
int k8s_wait_rollout(const struct kubectl *k, const char *kind, const char *ns, const char *name,
		     struct buf *reason);

/*
 * The "forced rollback" of a StatefulSet (Kubernetes documents it): its
 * controller does not replace a pod that never got ready, even once the
 * template is reverted, so the pods of StatefulSet `obj` that are not
 * ready and not at ControllerRevision `rev_name` are deleted, to be
 * created again from the reverted template. Says so in the log. Returns
 * how many it deleted, or -1 with a message in `err`.
 */
int k8s_delete_stuck_pods(const struct kubectl *k, json_t *obj, const char *rev_name,
			  struct buf *err);

/* "deployment/web in shop" (or without " in NS" when `ns` is NULL). */
void k8s_describe(const char *kind, const char *ns, const char *name, struct buf *out);

#endif
