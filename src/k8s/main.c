#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/fsio.h"
#include "k8s/k8s.h"

/*
 * How much of the step's time the helper keeps for itself: a rollout
 * that does not complete is given up this long before the engine's
 * timeout would kill the helper, so that the step fails with the
 * workload's reason ("not rolled out within ...: pod x: ImagePullBackOff")
 * rather than a bare "timed out".
 */
static uint64_t margin_ms(uint64_t timeout_ms)
{
	uint64_t m = timeout_ms / 5;
	return m > 3000 ? 3000 : m;
}

void k8s_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static const char *sget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int k8s_main(int argc, char **argv)
{
	const char *spec_path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--spec") && i + 1 < argc)
			spec_path = argv[++i];
		else if (!strncmp(argv[i], "--spec=", 7))
			spec_path = argv[i] + 7;
	}
	if (!spec_path) {
		fprintf(stderr, "lockstep __k8s: internal use only (the Kubernetes steps): --spec FILE is missing\n");
		return 2;
	}
	char *text;
	size_t len;
	int r = fsio_read_file(spec_path, 4u << 20, &text, &len);
	if (r < 0) {
		fprintf(stderr, "lockstep __k8s: cannot read %s: %s\n", spec_path, strerror(-r));
		return 2;
	}
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	free(text);
	struct k8s_spec s = { .root = root };
	s.mode = sget(root, "mode");
	s.kubectl = sget(root, "kubectl");
	s.workflow = sget(root, "workflow");
	s.step = sget(root, "step");
	s.attempt = (int)json_integer_value(json_object_get(root, "attempt"));
	s.timeout_ms = (uint64_t)json_integer_value(json_object_get(root, "timeout_ms"));
	s.timeout_default = json_is_true(json_object_get(root, "timeout_default"));
	s.records_dir = sget(root, "records_dir");
	s.result = sget(root, "result");
	s.ns = sget(root, "namespace");
	s.context = sget(root, "context");
	s.render_dir = sget(root, "render_dir");
	s.manifests = json_object_get(root, "manifests");
	s.scope = json_object_get(root, "scope");
	s.rolling_steps = json_object_get(root, "rolling_steps");
	if (!json_is_object(root) || !s.mode || !s.kubectl || !s.workflow || !s.step ||
	    !s.records_dir || !s.result) {
		fprintf(stderr, "lockstep __k8s: %s is not a spec of a Kubernetes step\n", spec_path);
		json_decref(root);
		return 2;
	}
	/* Progress lines and kubectl's own output share the log in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	uint64_t keep = s.timeout_default ? 0 : margin_ms(s.timeout_ms);
	s.deadline_ms = clock_mono_ms() + s.timeout_ms - keep;
	int rc;
	if (!strcmp(s.mode, "rolling") && json_is_array(s.manifests))
		rc = k8s_rolling(&s);
	else if (!strcmp(s.mode, "rollback"))
		rc = k8s_rollback(&s);
	else {
		fprintf(stderr, "lockstep __k8s: unknown mode '%s' in %s\n", s.mode, spec_path);
		rc = 2;
	}
	json_decref(root);
	return rc;
}
