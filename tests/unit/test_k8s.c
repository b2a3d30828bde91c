/*
 * Tests for the pure parts of the Kubernetes step helper (src/k8s/): the
 * record file (save, load, atomic replacement), reading kubectl's JSON
 * output (nothing, one object, a List), which objects are workloads,
 * picking the line that says what went wrong out of kubectl's stderr, and
 * running kubectl itself (a stand-in script) with its deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "k8s/kubectl.h"
#include "k8s/record.h"
#include "k8s/workload.h"

static void test_record_roundtrip(void **state)
{
	(void)state;
	char dir[] = "/tmp/lockstep-test-k8s-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/deploy.1.k8s.json", dir);
	struct k8s_record r = K8S_RECORD_INIT;
	k8s_set(&r.type, "k8s-rolling");
	k8s_set(&r.workflow, "frontend-deploy");
	k8s_set(&r.step, "deploy");
	r.attempt = 2;
	k8s_set(&r.phase, "applied");
	r.started_at = 1234567890123;
	struct k8s_workload *w = k8s_record_add(&r);
	k8s_set(&w->kind, "Deployment");
	k8s_set(&w->ns, "frontend");
	k8s_set(&w->name, "web");
	k8s_set(&w->uid, "u-1");
	k8s_set(&w->context, "local");
	w->existed = true;
	w->generation = 4;
	w->revision = 3;
	k8s_set(&w->revision_name, "web-abc");
	w->changed = true;
	w->new_generation = 5;
	w->changed_at = 1234567890999;
	struct buf err = BUF_INIT;
	assert_int_equal(k8s_record_save(&r, path, &err), 0);
	/* Rewritten in place: the reader sees the new version, whole. */
	k8s_set(&r.phase, "done");
	k8s_set(&r.outcome, "failed");
	k8s_set(&r.reason, "deployment/web in frontend: ProgressDeadlineExceeded");
	assert_int_equal(k8s_record_save(&r, path, &err), 0);
	k8s_record_release(&r);

	struct k8s_record back;
	assert_int_equal(k8s_record_load(path, &back, &err), 0);
	assert_string_equal(back.type, "k8s-rolling");
	assert_string_equal(back.step, "deploy");
	assert_int_equal(back.attempt, 2);
	assert_string_equal(back.phase, "done");
	assert_string_equal(back.reason, "deployment/web in frontend: ProgressDeadlineExceeded");
	assert_true(back.started_at == 1234567890123);
	assert_int_equal(back.workloads.n, 1);
	const struct k8s_workload *b = &back.workloads.v[0];
	assert_string_equal(b->kind, "Deployment");
	assert_string_equal(b->revision_name, "web-abc");
	assert_null(b->kubeconfig);
	assert_true(b->existed && b->changed);
	assert_int_equal(b->revision, 3);
	assert_int_equal(b->new_generation, 5);
	k8s_record_release(&back);

	/* No temporary file is left; a file that is not a record is refused. */
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	FILE *f = fopen(path, "w");
	fputs("{\"hello\": 1}", f);
	fclose(f);
	buf_reset(&err);
	assert_int_equal(k8s_record_load(path, &back, &err), -1);
	assert_non_null(strstr(err.s, "is not a record of a Kubernetes step"));
	buf_release(&err);
	unlink(path);
	rmdir(dir);
}

static void test_objects(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *a = k8s_objects("  \n", &err);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	a = k8s_objects("{\"apiVersion\": \"apps/v1\", \"kind\": \"StatefulSet\", \"metadata\": {\"name\": \"db\"}}", &err);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(k8s_workload_kind(json_array_get(a, 0)), "StatefulSet");
	assert_string_equal(k8s_str(json_array_get(a, 0), "metadata", "name", NULL), "db");
	json_decref(a);
	a = k8s_objects("{\"kind\": \"List\", \"items\": ["
			"{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"generation\": 7}},"
			"{\"apiVersion\": \"v1\", \"kind\": \"Service\"},"
			"{\"apiVersion\": \"extensions/v1beta1\", \"kind\": \"Deployment\"},"
			"{\"apiVersion\": \"apps/v1\", \"kind\": \"DaemonSet\"}]}",
			&err);
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(k8s_workload_kind(json_array_get(a, 0)), "Deployment");
	assert_int_equal(k8s_int(json_array_get(a, 0), "metadata", "generation", NULL), 7);
	assert_null(k8s_workload_kind(json_array_get(a, 1)));
	assert_null(k8s_workload_kind(json_array_get(a, 2)));
	assert_string_equal(k8s_resource_of(k8s_workload_kind(json_array_get(a, 3))), "daemonset");
	json_decref(a);
	assert_null(k8s_objects("deployment.apps/web created", &err));
	assert_non_null(strstr(err.s, "did not answer with JSON"));
	buf_release(&err);

	struct buf d = BUF_INIT;
	k8s_describe("StatefulSet", "infra", "db", &d);
	assert_string_equal(d.s, "statefulset/db in infra");
	buf_release(&d);
}

static void test_first_line(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	kubectl_first_line("E1126 06:52:45.592346   19192 memcache.go:265] \"Unhandled Error\"\n"
			   "E1126 06:52:45.593000   19192 memcache.go:265] again\n"
			   "The connection to the server localhost:8080 was refused - did you specify the right host or port?\n",
			   &b);
	assert_string_equal(b.s, "The connection to the server localhost:8080 was refused - did you specify the right host or port?");
	buf_reset(&b);
	kubectl_first_line("Waiting for deployment \"web\" rollout to finish\n"
			   "error: deployment \"web\" exceeded its progress deadline\n",
			   &b);
	assert_string_equal(b.s, "deployment \"web\" exceeded its progress deadline");
	buf_reset(&b);
	kubectl_first_line("Error from server (NotFound): namespaces \"x\" not found\n", &b);
	assert_string_equal(b.s, "Error from server (NotFound): namespaces \"x\" not found");
	buf_reset(&b);
	kubectl_first_line("", &b);
	assert_string_equal(b.s, "");
	buf_release(&b);

	char d[32];
	k8s_duration(299480, d, sizeof(d));
	assert_string_equal(d, "4m59s");
	k8s_duration(3761, d, sizeof(d));
	assert_string_equal(d, "3s761ms");
}

/* kubectl_run on a stand-in: arguments, output, status, the deadline. */
static void test_run(void **state)
{
	(void)state;
	char dir[] = "/tmp/lockstep-test-kubectl-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/kubectl", dir);
	FILE *f = fopen(path, "w");
	fputs("#!/bin/sh\n"
	      "if [ \"$3\" = sleep ]; then exec sleep 30; fi\n"
	      "echo \"args: $* kc=${KUBECONFIG:-unset}\"\n"
	      "echo 'error: it went wrong' >&2\n"
	      "exit 3\n",
	      f);
	fclose(f);
	chmod(path, 0755);
	struct kubectl k = { .path = path, .context = "local", .kubeconfig = "/x/kc",
			     .deadline_ms = clock_mono_ms() + 10000 };
	struct kubectl_out o = KUBECTL_OUT_INIT;
	const char *args[] = { "get", "pods", NULL };
	assert_int_equal(kubectl_run(&k, args, false, &o), 0);
	assert_int_equal(o.status, 3);
	assert_string_equal(o.out.s, "args: --context local get pods kc=/x/kc\n");
	assert_string_equal(o.err.s, "error: it went wrong\n");
	/* Killed at its deadline. */
	k.deadline_ms = clock_mono_ms() + 200;
	const char *slow[] = { "sleep", NULL };
	uint64_t t0 = clock_mono_ms();
	assert_int_equal(kubectl_run(&k, slow, false, &o), -1);
	assert_true(o.timed_out);
	assert_true(clock_mono_ms() - t0 < 5000);
	/* A kubectl that is not there. */
	k.path = "/nonexistent/kubectl";
	k.deadline_ms = clock_mono_ms() + 10000;
	assert_int_equal(kubectl_run(&k, args, false, &o), -1);
	assert_non_null(strstr(o.err.s, "cannot run /nonexistent/kubectl"));
	kubectl_out_release(&o);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_first_line),
		cmocka_unit_test(test_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
