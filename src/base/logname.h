/*
 * logname: the names of the log tree, STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log.
 *
 * WORKFLOW is a workflow instance name escaped by log_component(); STEP
 * is a step id as it is (ids are [a-z0-9_-]+), followed by the attempt
 * number and one of the suffixes the engine and the Kubernetes step
 * helper give an attempt's files: `.log`, `.k8s-spec.json`, `.k8s.json`
 * (and its temporary `.k8s.json.tmp`) and the directory `.manifests`.
 * Each name is one path component, so it must fit LOG_NAME_MAX bytes:
 * the loader refuses names that would not, rather than let a run lose
 * its logs.
 */
#ifndef LS_LOGNAME_H
#define LS_LOGNAME_H

#include <stdbool.h>
#include <stddef.h>

/* The longest path component of Linux file systems, in bytes (NAME_MAX). */
#define LOG_NAME_MAX 255
/* Digits of the largest attempt number (retries are at most 100). */
#define LOG_ATTEMPT_DIGITS 3
/* The longest ".ATTEMPT.SUFFIX" after a step id: ".101.k8s-spec.json". */
#define LOG_STEP_SUFFIX_MAX (1 + LOG_ATTEMPT_DIGITS + sizeof(".k8s-spec.json") - 1)
/* The longest step id whose files all fit LOG_NAME_MAX. */
#define LOG_STEP_ID_MAX (LOG_NAME_MAX - LOG_STEP_SUFFIX_MAX)

struct buf;

/*
 * Appends workflow instance name `name` as one directory name of the log
 * tree: '/', '%', control characters and a leading '.' are written as
 * %XX, so distinct names give distinct directories and none can climb
 * out of the tree (a matrix value may hold '/', a workflow may be
 * called "..").
 */
void log_component(struct buf *path, const char *name);
/*
 * How many bytes log_component() writes for the `len` bytes at `s`: at
 * the start of a name when `start` is true (a leading '.' is escaped),
 * else as a later part of one. The parts' lengths add up to the whole
 * name's.
 */
size_t log_component_len(const char *s, size_t len, bool start);

#endif
