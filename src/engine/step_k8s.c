#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsio.h"
#include "engine/run_internal.h"
#include "events/logpath.h"

/*
 * step_k8s: the `k8s-rolling` and `k8s-rollback` step kinds, as seen by
 * the engine. The loop never talks to Kubernetes: each attempt runs as a
 * process exactly like a run step (its own process group, log, timeout,
 * abort, kill grace, recorded pid, leftovers found by the run token),
 * and that process is lockstep itself in its hidden `__k8s` mode
 * (src/k8s/), which calls kubectl one command at a time. This file writes
 * what the helper needs into a spec file next to the attempt's log,
 *
 *   STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.k8s-spec.json   what to do
 *   STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.k8s.json        what it did (the helper writes it)
 *
 * and reads the helper's reason from the second file when the attempt
 * fails. The records of k8s-rolling attempts stay there for the run's
 * life, so a k8s-rollback of the same run finds them, after a
 * `lockstep resume` too.
 */

/* Bytes of a result file read back: it holds a reason and a few records. */
#define RESULT_MAX (4u * 1024 * 1024)

char *step_k8s_self_exe(const char *given)
{
	if (given)
		return xstrdup(given);
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return xstrdup("lockstep");
	path[n] = '\0';
	/* Replaced while running (an upgrade): this process's image still works. */
	if (n > 10 && !strcmp(path + n - 10, " (deleted)")) {
		char self[64];
		snprintf(self, sizeof(self), "/proc/%d/exe", (int)getpid());
		return xstrdup(self);
	}
	return xstrdup(path);
}

/* `s` quoted for /bin/sh: '...' with each ' written as '\''. */
static void add_sh_quoted(struct buf *b, const char *s)
{
	buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '\'');
}

static void add_json_kv(struct buf *b, const char *name, const struct kvlist *l)
{
	buf_addf(b, ",\"%s\":{", name);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			buf_addc(b, ',');
		buf_add_json_str(b, l->v[i].key);
		buf_addc(b, ':');
		buf_add_json_str(b, l->v[i].val ? l->v[i].val : "");
	}
	buf_addc(b, '}');
}

static void add_json_field(struct buf *b, const char *name, const char *val)
{
	buf_addf(b, ",\"%s\":", name);
	if (val)
		buf_add_json_str(b, val);
	else
		buf_adds(b, "null");
}

/*
 * The run's log directory, absolute: the helper runs in the step's
 * working directory.
 */
static void abs_run_dir(const struct wf_run *w, struct buf *out)
{
	const char *log_dir = w->run->opts.log_dir;
	if (log_dir[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		buf_addf(out, "%s/", cwd ? cwd : ".");
		free(cwd);
	}
	buf_adds(out, log_dir);
}

/*
 * How long the helper may take: what is left of the step's timeout, or
 * the default for a step without one (the helper bounds itself by it).
 */
static uint64_t time_left(const struct wf_run *w, bool *is_default)
{
	const struct plan_step *ps = wf_cur_step(w);
	*is_default = !ps->src->timeout_ms;
	if (*is_default)
		return K8S_DEFAULT_TIMEOUT_MS;
	uint64_t spent = run_now(w->run) - w->step_started_ms;
	return ps->src->timeout_ms > spent ? ps->src->timeout_ms - spent : 1;
}

static void spec_json(const struct wf_run *w, const char *run_dir, const char *dir, struct buf *b)
{
	const struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	bool rolling = ps->src->kind == STEP_K8S_ROLLING;
	bool is_default;
	uint64_t left = time_left(w, &is_default);
	buf_addf(b, "{\"version\":1,\"mode\":\"%s\"", rolling ? "rolling" : "rollback");
	add_json_field(b, "kubectl", r->plan->kubectl ? r->plan->kubectl : "kubectl");
	add_json_field(b, "workflow", w->pw->name);
	add_json_field(b, "step", ps->id);
	buf_addf(b, ",\"attempt\":%d,\"timeout_ms\":%llu,\"timeout_default\":%s", w->attempt,
		 (unsigned long long)left, is_default ? "true" : "false");
	add_json_field(b, "records_dir", dir);
	struct buf path = BUF_INIT;
	logpath_attempt_file(run_dir, w->pw->name, ps->id, w->attempt, ".k8s.json", &path);
	add_json_field(b, "result", path.s);
	buf_release(&path);
	if (rolling) {
		const struct plan_k8s *pk = ps->k8s;
		add_json_field(b, "namespace", pk->kube_namespace);
		add_json_field(b, "context", pk->kube_context);
		buf_adds(b, ",\"manifests\":[");
		for (size_t i = 0; i < pk->nmanifests; i++) {
			if (i)
				buf_addc(b, ',');
			buf_add_json_str(b, pk->manifests[i]);
		}
		buf_addc(b, ']');
		struct buf rd = BUF_INIT;
		logpath_attempt_file(run_dir, w->pw->name, ps->id, w->attempt, ".manifests", &rd);
		add_json_field(b, "render_dir", rd.s);
		buf_release(&rd);
		/* What ${{ }} in the manifests may name, for this instance. */
		buf_adds(b, ",\"scope\":{\"run_id\":");
		buf_addf(b, "\"%llu\"", (unsigned long long)r->opts.run_id);
		add_json_field(b, "pipeline", r->plan->pipeline->name);
		add_json_field(b, "workflow", w->pw->name);
		add_json_kv(b, "vars", &r->plan->vars);
		add_json_kv(b, "inputs", &w->pw->inputs);
		add_json_kv(b, "matrix", &w->pw->matrix);
		buf_addc(b, '}');
	} else {
		/* The k8s-rolling steps of this workflow, whose records it undoes. */
		buf_adds(b, ",\"rolling_steps\":[");
		size_t k = 0;
		for (size_t i = 0; i < w->pw->nsteps; i++) {
			if (w->pw->steps[i].src->kind != STEP_K8S_ROLLING)
				continue;
			if (k++)
				buf_addc(b, ',');
			buf_add_json_str(b, w->pw->steps[i].id);
		}
		buf_addc(b, ']');
	}
	buf_adds(b, "}\n");
}

void step_k8s_command(struct wf_run *w, struct buf *script)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	free(w->k8s_result);
	w->k8s_result = NULL;
	if (!r->opts.log_dir) {
		/* Not reachable from the commands, which always keep logs. */
		buf_adds(script, "echo 'lockstep: Kubernetes steps need a state directory for their records' >&2; exit 2");
		return;
	}
	struct buf rdir = BUF_INIT, dir = BUF_INIT, spec = BUF_INIT, json = BUF_INIT;
	abs_run_dir(w, &rdir);
	/* The records of its attempts are where their logs are. */
	logpath_workflow_dir(rdir.s, w->pw->name, &dir);
	mkdir(dir.s, 0700); /* log_open made it; this is for a log that failed to open */
	logpath_attempt_file(rdir.s, w->pw->name, ps->id, w->attempt, ".k8s-spec.json", &spec);
	spec_json(w, rdir.s, dir.s, &json);
	int rc = fsio_write_file(spec.s, json.s, json.len);
	if (rc < 0) {
		struct buf msg = BUF_INIT;
		buf_addf(&msg, "lockstep: cannot write %s: %s", spec.s, strerror(-rc));
		buf_adds(script, "echo ");
		add_sh_quoted(script, msg.s);
		buf_adds(script, " >&2; exit 2");
		buf_release(&msg);
	} else {
		struct buf res = BUF_INIT;
		logpath_attempt_file(rdir.s, w->pw->name, ps->id, w->attempt, ".k8s.json", &res);
		w->k8s_result = buf_detach(&res, NULL);
		/* A result left by an earlier process of this attempt is stale. */
		unlink(w->k8s_result);
		buf_adds(script, "exec ");
		add_sh_quoted(script, r->self_exe);
		buf_adds(script, " __k8s --spec ");
		add_sh_quoted(script, spec.s);
	}
	buf_release(&rdir);
	buf_release(&dir);
	buf_release(&spec);
	buf_release(&json);
}

char *step_k8s_reason(struct wf_run *w)
{
	char *path = w->k8s_result;
	w->k8s_result = NULL;
	if (!path)
		return NULL;
	char *text = NULL;
	size_t len = 0;
	char *reason = NULL;
	if (fsio_read_file(path, RESULT_MAX, &text, &len) == 0) {
		json_error_t jerr;
		json_t *o = json_loadb(text, len, 0, &jerr);
		json_t *v = json_object_get(o, "reason");
		if (json_is_string(v) && *json_string_value(v))
			reason = xstrdup(json_string_value(v));
		json_decref(o);
		free(text);
	}
	free(path);
	return reason;
}
