/*
 * resources: the checks of a plan that look outside the pipeline file,
 * for its Kubernetes steps: the kubectl they will run, and the manifests
 * of k8s-rolling steps, which must exist and whose ${{ }} expressions
 * must name what each instance defines. `check`, `plan`, `run` and
 * `resume` run them (pipeline_compile_opts); plan_check stays a pure
 * function of the file, for the fuzzer and the unit tests.
 */
#ifndef LS_RESOURCES_H
#define LS_RESOURCES_H

#include <stddef.h>

#include "base/diag.h"
#include "pipeline/model.h"

struct resource_opts {
	/*
	 * Where relative manifest paths start: the pipeline file's directory.
	 * NULL: derived from the plan's file name ("-": the current directory).
	 */
	const char *base_dir;
	/* --kubectl as given, or NULL: "kubectl" looked up in $PATH. */
	const char *kubectl;
};

/*
 * Checks the resources the plan's Kubernetes steps need, adding errors to
 * `d`, and sets plan->kubectl to the kubectl they will run. Does nothing
 * for a plan without Kubernetes steps. Returns how many errors it added.
 */
size_t plan_check_resources(struct plan *plan, const struct resource_opts *o, struct diag *d);

/*
 * The directory relative paths of pipeline file `file` start at: the
 * absolute directory that contains it, or the current directory for "-"
 * or a file that cannot be resolved. Heap string.
 */
char *pipeline_base_dir(const char *file);

#endif
