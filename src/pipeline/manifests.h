/*
 * manifests: what the `manifests` of a k8s-rolling step name. An entry is
 * a file, a directory (its *.yaml, *.yml and *.json files, not recursive,
 * sorted by name, like `kubectl apply -f DIR`) or a glob (sorted matches;
 * a matching directory counts as its files). Relative entries start at
 * the pipeline file's directory. `check` resolves them to report missing
 * manifests and bad expressions in them; the k8s-rolling step resolves
 * them again when it runs (src/k8s/), the same way.
 */
#ifndef LS_MANIFESTS_H
#define LS_MANIFESTS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "pipeline/model.h"

struct manifest_file {
	char *path;   /* to open: base_dir/ENTRY, or ENTRY when absolute */
	char *shown;  /* as written: relative to base_dir unless absolute */
};

struct manifest_list {
	VEC(struct manifest_file) files;
};

#define MANIFEST_LIST_INIT { { NULL, 0, 0 } }

/*
 * Appends the files that `entry` names to `out`, skipping files already in
 * it. Returns 0, or -1 with a one-line reason in `err` ("manifest
 * 'k8s/x.yaml' does not exist", "manifest glob 'k8s/x-*.yml' matches no file").
 */
int manifests_resolve(const char *base_dir, const char *entry, struct manifest_list *out,
		      struct buf *err);
void manifest_list_release(struct manifest_list *l);

/* The 1-based line and column (in characters) of byte `offset` of `text`. */
struct pos manifest_text_pos(const char *text, size_t len, size_t offset);

#endif
