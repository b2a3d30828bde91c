/*
 * graph: every format rendered from one hand-built plan, the
 * multi-service example of docs/pipeline-format.md plus a matrix fan-out whose names need escaping.
 * The plan is built here rather than loaded from YAML so these tests do
 * not depend on the loader and expander.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "pipeline/graph.h"
#include "pipeline/model.h"

/* A step name with everything dot, mermaid and JSON must escape. */
#define NASTY_NAME "Say \"hi\" \\ to <eu> & #1\nthen [x=y]"

struct fixture {
	struct pipeline pipe;
	struct plan plan;
};

static struct arena *A(struct fixture *f)
{
	return &f->plan.arena;
}

/* Fills `ps` and its source step; returns the source for kind-specific fields. */
static struct step *set_step(struct fixture *f, struct plan_step *ps, enum step_kind kind,
			     const char *id, const char *name, const char *arg, int line)
{
	struct step *s = arena_alloc(A(f), sizeof(*s));
	s->kind = kind;
	s->pos = (struct pos){ line, 9 };
	s->id = id;
	s->name = name;
	s->retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
	ps->src = s;
	ps->id = id;
	ps->name = name;
	if (kind == STEP_RUN) {
		s->run = arg;
		ps->run = arg;
	} else if (kind == STEP_BARRIER) {
		s->barrier = arg;
		ps->barrier = arg;
	}
	return s;
}

/*
 * Collects the barriers of the steps (or rollback) lists, participants in
 * workflow order, as plan_build() does, and sets each step's index.
 */
static void collect_barriers(struct fixture *f, bool rollback)
{
	struct plan *p = &f->plan;
	size_t cap = 8, n = 0;
	struct plan_barrier *v = arena_array(A(f), cap, sizeof(*v));
	for (size_t w = 0; w < p->nworkflows; w++) {
		struct plan_workflow *wf = &p->workflows[w];
		struct plan_step *list = rollback ? wf->rollback : wf->steps;
		size_t nlist = rollback ? wf->nrollback : wf->nsteps;
		for (size_t s = 0; s < nlist; s++) {
			if (list[s].src->kind != STEP_BARRIER)
				continue;
			size_t b = 0;
			while (b < n && strcmp(v[b].id, list[s].barrier) != 0)
				b++;
			if (b == n) {
				assert_true(n < cap);
				v[n].id = list[s].barrier;
				v[n].timeout_ms = DEFAULT_BARRIER_TIMEOUT_MS;
				v[n].rollback = rollback;
				v[n].group = wf->group;
				v[n].uses = arena_array(A(f), p->nworkflows, sizeof(*v[n].uses));
				for (size_t d = 0; d < f->pipe.nbarriers; d++) {
					if (strcmp(f->pipe.barriers[d].id, v[n].id) == 0) {
						v[n].decl = &f->pipe.barriers[d];
						v[n].title = f->pipe.barriers[d].name;
						v[n].timeout_ms = f->pipe.barriers[d].timeout_ms;
					}
				}
				n++;
			}
			v[b].uses[v[b].nuses++] = (struct plan_barrier_use){ w, s };
			list[s].barrier_index = b;
		}
	}
	if (rollback) {
		p->rollback_barriers = v;
		p->nrollback_barriers = n;
	} else {
		p->barriers = v;
		p->nbarriers = n;
	}
}

static struct kvlist kv1(struct fixture *f, const char *key, const char *val)
{
	struct kvlist l = { arena_alloc(A(f), sizeof(struct kv)), 1 };
	l.v[0].key = key;
	l.v[0].val = val;
	return l;
}

/*
 * group 1: backend-deploy, frontend-deploy (barriers BE, FE; rollback
 *          barrier RB orders their rollbacks)
 * group 2: smoke-tests, verify[region=eu], verify[region="us"]
 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct pipeline *pipe = &f->pipe;
	struct plan *p = &f->plan;
	p->pipeline = pipe;

	pipe->file = "p.yml";
	pipe->name = "multi-service";
	pipe->description = "Deploy backend and frontend together";
	pipe->on_failure = ON_FAILURE_ROLLBACK_ALL;
	pipe->nbarriers = 2;
	pipe->barriers = arena_array(A(f), 2, sizeof(*pipe->barriers));
	pipe->barriers[0] = (struct barrier_decl){
		.id = "BE", .pos = { 6, 3 }, .name = "Backend service deployment done",
		.timeout_ms = 10 * 60 * 1000, .fail_fast = -1, .used = true,
	};
	pipe->barriers[1] = (struct barrier_decl){
		.id = "FE", .pos = { 9, 3 }, .name = "Frontend service deployment done",
		.timeout_ms = 90 * 1000, .fail_fast = -1, .used = true,
	};
	pipe->nworkflows = 4;
	pipe->workflows = arena_array(A(f), 4, sizeof(*pipe->workflows));
	pipe->workflows[0].name = "backend-deploy";
	pipe->workflows[1].name = "frontend-deploy";
	pipe->workflows[2].name = "smoke-tests";
	pipe->workflows[2].on_failure = ON_FAILURE_STOP;
	pipe->workflows[3].name = "verify";
	p->vars = kv1(f, "version", "1.4.2");

	p->nworkflows = 5;
	p->workflows = arena_array(A(f), 5, sizeof(*p->workflows));
	const char *names[] = { "backend-deploy", "frontend-deploy", "smoke-tests",
				"verify[region=eu]", "verify[region=\"us\"]" };
	const size_t src[] = { 0, 1, 2, 3, 3 };
	for (size_t w = 0; w < 5; w++) {
		p->workflows[w].name = names[w];
		p->workflows[w].src = &pipe->workflows[src[w]];
		p->workflows[w].group = w < 2 ? 0 : 1;
	}

	struct plan_workflow *be = &p->workflows[0];
	be->nsteps = 3;
	be->steps = arena_array(A(f), 3, sizeof(*be->steps));
	struct step *deploy = set_step(f, &be->steps[0], STEP_RUN, "deploy", "Rolling deploy",
				       "./deploy.sh backend \"$LOCKSTEP_VAR_VERSION\"", 12);
	deploy->timeout_ms = 5 * 60 * 1000;
	deploy->retries = 2;
	set_step(f, &be->steps[1], STEP_BARRIER, "barrier-be", "barrier BE", "BE", 14);
	set_step(f, &be->steps[2], STEP_BARRIER, "barrier-fe",
		 "Wait for FrontEnd service deployment", "FE", 15);
	be->nrollback = 2;
	be->rollback = arena_array(A(f), 2, sizeof(*be->rollback));
	set_step(f, &be->rollback[0], STEP_BARRIER, "rollback-1", "barrier RB", "RB", 18);
	set_step(f, &be->rollback[1], STEP_RUN, "rollback-2", "./rollback.sh backend",
		 "./rollback.sh backend", 19);

	struct plan_workflow *fe = &p->workflows[1];
	fe->nsteps = 3;
	fe->steps = arena_array(A(f), 3, sizeof(*fe->steps));
	set_step(f, &fe->steps[0], STEP_BARRIER, "barrier-be",
		 "Wait for Backend service deployment", "BE", 22);
	set_step(f, &fe->steps[1], STEP_RUN, "deploy", "./deploy.sh frontend",
		 "./deploy.sh frontend", 24);
	set_step(f, &fe->steps[2], STEP_BARRIER, "barrier-fe", "barrier FE", "FE", 25);
	fe->nrollback = 2;
	fe->rollback = arena_array(A(f), 2, sizeof(*fe->rollback));
	set_step(f, &fe->rollback[0], STEP_RUN, "rollback-1", "./rollback.sh frontend",
		 "./rollback.sh frontend", 27);
	set_step(f, &fe->rollback[1], STEP_BARRIER, "rollback-2", "barrier RB", "RB", 28);

	struct plan_workflow *st = &p->workflows[2];
	st->nsteps = 2;
	st->steps = arena_array(A(f), 2, sizeof(*st->steps));
	set_step(f, &st->steps[0], STEP_RUN, "step-1", "./integration-tests.sh",
		 "./integration-tests.sh", 32);
	set_step(f, &st->steps[1], STEP_WAIT, "step-2", "wait 30s", NULL, 33)->wait_ms = 30000;

	for (size_t w = 3; w < 5; w++) {
		struct plan_workflow *v = &p->workflows[w];
		v->matrix = kv1(f, "region", w == 3 ? "eu" : "\"us\"");
		v->inputs = kv1(f, "target", "https://example.com/health");
		v->nsteps = 1;
		v->steps = arena_array(A(f), 1, sizeof(*v->steps));
		set_step(f, &v->steps[0], STEP_RUN, "check", NASTY_NAME, "curl -f \"$TARGET\"", 38);
	}

	p->ngroups = 2;
	p->groups = arena_array(A(f), 2, sizeof(*p->groups));
	static size_t g1[] = { 0, 1 }, g2[] = { 2, 3, 4 };
	p->groups[0] = (struct plan_group){ g1, 2 };
	p->groups[1] = (struct plan_group){ g2, 3 };

	collect_barriers(f, false);
	collect_barriers(f, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	arena_release(&f->plan.arena);
	free(f);
	return 0;
}

/* The rendering of the fixture, owned by the caller. */
static char *render(void **state, enum plan_format fmt)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	plan_render(&f->plan, fmt, &out);
	return buf_detach(&out, NULL);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Asserts that `a` occurs in `s` and that `b` occurs after it. */
static void assert_order(const char *s, const char *a, const char *b)
{
	const char *pa = strstr(s, a);
	if (!pa)
		fail_msg("missing: %s", a);
	if (!strstr(pa + strlen(a), b))
		fail_msg("missing after '%s': %s", a, b);
}

static void assert_contains(const char *s, const char *needle)
{
	if (!strstr(s, needle))
		fail_msg("missing: %s\n---\n%s", needle, s);
}

static void test_format_parse(void **state)
{
	enum plan_format f = PLAN_FORMAT_TEXT;
	assert_int_equal(plan_format_parse("dot", &f), 0);
	assert_int_equal(f, PLAN_FORMAT_DOT);
	assert_int_equal(plan_format_parse("mermaid", &f), 0);
	assert_int_equal(f, PLAN_FORMAT_MERMAID);
	assert_int_equal(plan_format_parse("json", &f), 0);
	assert_int_equal(f, PLAN_FORMAT_JSON);
	assert_int_equal(plan_format_parse("text", &f), 0);
	assert_int_equal(f, PLAN_FORMAT_TEXT);
	assert_int_equal(plan_format_parse("JSON", &f), -1);
	assert_int_equal(plan_format_parse("", &f), -1);
	assert_int_equal(plan_format_parse("svg", &f), -1);
	assert_int_equal(plan_format_parse(NULL, &f), -1);
	assert_int_equal(f, PLAN_FORMAT_TEXT);
}

static void test_text(void **state)
{
	char *s = render(state, PLAN_FORMAT_TEXT);
	assert_true(strncmp(s, "pipeline multi-service (p.yml)\n", 31) == 0);
	assert_contains(s, "on-failure  rollback-all\n");
	assert_contains(s, "vars        version=1.4.2\n");
	assert_order(s, "group 1: backend-deploy, frontend-deploy (parallel)\n",
		     "group 2: smoke-tests, verify[region=eu], verify[region=\"us\"] (parallel)\n");

	/* Steps in order with id, kind, name and the barrier id. */
	assert_order(s, "workflow backend-deploy\n", "1  deploy      run      Rolling deploy");
	assert_contains(s, "timeout 5m, 2 retries 1s apart\n");
	/* The barrier id, unless the derived name already says it. */
	assert_order(s, "1  deploy      run      Rolling deploy",
		     "2  barrier-be  barrier  barrier BE\n");
	assert_order(s, "2  barrier-be",
		     "3  barrier-fe  barrier  Wait for FrontEnd service deployment  barrier FE\n");
	assert_order(s, "workflow frontend-deploy\n", "rollback\n      1  rollback-1  run");
	assert_contains(s, "2  step-2  wait  wait 30s\n");
	assert_contains(s, "instance of  verify\n    matrix       region=eu\n");
	/* A name with a newline stays on one line. */
	assert_contains(s, "Say \"hi\" \\ to <eu> & #1\\nthen [x=y]");

	/* Barriers: title, timeout, participants in order with positions. */
	assert_order(s, "\nbarriers\n  BE  Backend service deployment done\n",
		     "timeout       10m\n");
	assert_contains(s, "participants  backend-deploy, frontend-deploy\n");
	assert_order(s, "      backend-deploy   step 2 of 3 (p.yml:14:9)\n",
		     "      frontend-deploy  step 1 of 3 (p.yml:22:9)\n");
	assert_contains(s, "  FE  Frontend service deployment done\n    timeout       1m30s\n");
	assert_contains(s, "backend-deploy   rollback step 1 of 2 (p.yml:18:9)\n");
	assert_contains(s, "frontend-deploy  rollback step 2 of 2 (p.yml:28:9)\n");

	/* Rollback order: the failed group, then earlier groups newest first. */
	assert_order(s, "\nrollback order\n", "if group 1 fails:\n    1. group 1, in parallel\n");
	assert_contains(s, "       ordered by RB: backend-deploy at rollback-1, "
			   "frontend-deploy at rollback-2\n");
	assert_order(s, "if group 2 fails:\n    1. group 2, in parallel\n",
		     "    2. then group 1, in parallel (rollback-all)\n"
		     "       backend-deploy   rollback-1, rollback-2\n");
	assert_contains(s, "smoke-tests          no rollback (no rollback steps)\n");
	/* No trailing blanks: the last column is never padded. */
	assert_null(strstr(s, " \n"));

	char *again = render(state, PLAN_FORMAT_TEXT);
	assert_string_equal(s, again);
	free(again);
	free(s);
}

static void test_text_stop(void **state)
{
	struct fixture *f = *state;
	f->pipe.on_failure = ON_FAILURE_STOP;
	f->pipe.workflows[1].on_failure = ON_FAILURE_STOP;
	char *s = render(state, PLAN_FORMAT_TEXT);
	assert_contains(s, "Pipeline on-failure is stop: earlier groups stay deployed.\n");
	assert_contains(s, "backend-deploy   if it fails: rollback-1, rollback-2\n");
	assert_contains(s, "frontend-deploy  no rollback (on-failure: stop)\n");
	assert_null(strstr(s, "then group 1"));
	free(s);

	s = render(state, PLAN_FORMAT_JSON);
	json_t *root = json_loads(s, 0, NULL);
	assert_non_null(root);
	json_t *order = json_object_get(root, "rollback_order");
	assert_true(json_is_false(json_object_get(order, "earlier_groups_roll_back")));
	json_t *g0 = json_array_get(json_object_get(order, "groups"), 0);
	json_t *be = json_array_get(json_object_get(g0, "if_this_group_fails"), 0);
	assert_string_equal(json_string_value(json_object_get(be, "when")), "if-failed");
	json_t *fe = json_array_get(json_object_get(g0, "if_this_group_fails"), 1);
	assert_string_equal(json_string_value(json_object_get(fe, "when")), "never");
	assert_string_equal(json_string_value(json_object_get(fe, "reason")), "on-failure: stop");
	json_t *later = json_array_get(json_object_get(g0, "if_a_later_group_fails"), 0);
	assert_string_equal(json_string_value(json_object_get(later, "reason")),
			    "pipeline on-failure: stop");
	json_decref(root);
	free(s);
}

/* Renders `src` with Graphviz; asserts exit 0 and nothing on stderr. */
static void assert_dot_renders(const char *src)
{
	if (access("/usr/bin/dot", X_OK) != 0) {
		print_message("graphviz not installed: not rendering\n");
		return;
	}
	char in[] = "/tmp/test_graph_XXXXXX";
	int fd = mkstemp(in);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(src, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	char cmd[256], err[sizeof(in) + 8];
	snprintf(err, sizeof(err), "%s.err", in);
	snprintf(cmd, sizeof(cmd), "/usr/bin/dot -Tsvg %s -o /dev/null 2>%s", in, err);
	int rc = system(cmd);
	FILE *ef = fopen(err, "r");
	assert_non_null(ef);
	char msg[1024];
	size_t n = fread(msg, 1, sizeof(msg) - 1, ef);
	msg[n] = '\0';
	fclose(ef);
	unlink(err);
	unlink(in);
	if (rc != 0 || n)
		fail_msg("dot failed (%d): %s\n---\n%s", rc, msg, src);
}

static void test_dot(void **state)
{
	char *s = render(state, PLAN_FORMAT_DOT);
	assert_true(strncmp(s, "digraph lockstep {\n", 19) == 0);
	assert_contains(s, "rankdir=LR");
	/* One lane per instance, one rollback lane per rollback list. */
	assert_int_equal(count(s, "subgraph cluster_"), 7);
	assert_contains(s, "subgraph cluster_4 {\n\t\tlabel=\"verify[region=eu] (group 2)\";");
	assert_contains(s, "label=\"verify[region=\\\"us\\\"] (group 2)\";");
	/* A chain of steps in order inside the lane. */
	assert_contains(s, "\t\tn1 -> n2;\n\t\tn2 -> n3;\n");
	/* Exactly one node per barrier, joined by every participant. */
	assert_int_equal(count(s, "\tb1 ["), 1);
	assert_int_equal(count(s, "\tb2 ["), 1);
	assert_int_equal(count(s, "\tb3 ["), 0);
	assert_int_equal(count(s, "\trb1 ["), 1);
	assert_contains(s, "label=\"BE\\nBackend service deployment done\\ntimeout 10m\"");
	assert_int_equal(count(s, " -> b1 "), 2);
	assert_contains(s, "\tn2 -> b1 "); /* backend step 2 */
	assert_contains(s, "\tn6 -> b1 "); /* frontend step 1 */
	assert_contains(s, "\tn3 -> b2 ");
	assert_contains(s, "\tn8 -> b2 ");
	assert_contains(s, "\tn4 -> rb1 ");
	assert_contains(s, "\tn10 -> rb1 ");
	/* The label is escaped: quotes, backslash, newline. */
	assert_contains(s, "label=\"Say \\\"hi\\\" \\\\ to <eu> & #1\\nthen [x=y]\\ncheck: run\"");
	/* Group order: 2 last steps x 3 first steps go through one join node. */
	assert_contains(s, "\tj1 [shape=point");
	assert_contains(s, "\tn3 -> j1 ");
	assert_contains(s, "\tn8 -> j1 ");
	assert_contains(s, "\tj1 -> n11 ");
	assert_contains(s, "\tj1 -> n13 ");
	assert_contains(s, "\tj1 -> n14 ");
	assert_int_equal(count(s, " -> j1 "), 2);
	assert_int_equal(count(s, "\tj1 -> "), 3);
	/* Names never become ids. */
	assert_null(strstr(s, "\tbackend-deploy"));
	assert_null(strstr(s, "\"BE\" ["));
	assert_dot_renders(s);
	free(s);
}

static void test_dot_direct_group_edges(void **state)
{
	struct fixture *f = *state;
	f->plan.groups[1].n = 1; /* group 2 is smoke-tests alone: 2 edges beat a join node */
	char *s = render(state, PLAN_FORMAT_DOT);
	assert_null(strstr(s, "j1"));
	assert_contains(s, "\tn3 -> n11 ");
	assert_contains(s, "\tn8 -> n11 ");
	assert_dot_renders(s);
	free(s);
}

static void test_mermaid(void **state)
{
	char *s = render(state, PLAN_FORMAT_MERMAID);
	assert_true(strncmp(s, "flowchart LR\n", 13) == 0);
	assert_contains(s, "  subgraph w1[\"backend-deploy (group 1)\"]\n");
	assert_contains(s, "  subgraph w5[\"verify[region=#quot;us#quot;] (group 2)\"]\n");
	assert_contains(s, "    subgraph w1r[\"rollback\"]\n");
	assert_int_equal(count(s, "subgraph "), 7);
	assert_int_equal(count(s, "  end\n"), 7);
	assert_int_equal(count(s, "  b1{{"), 1);
	assert_int_equal(count(s, "  b2{{"), 1);
	assert_int_equal(count(s, "  rb1{{"), 1);
	assert_contains(s, "  b1{{\"BE<br/>Backend service deployment done<br/>timeout 10m\"}}\n");
	assert_contains(s, "  n2 -.-> b1\n");
	assert_contains(s, "  n6 -.-> b1\n");
	assert_contains(s, "    n1 --> n2\n");
	assert_contains(s, "n14[\"Say #quot;hi#quot; \\ to #lt;eu#gt; #amp; #35;1<br/>then [x=y]"
			   "<br/>check: run\"]\n");
	assert_contains(s, "n2([\"barrier BE<br/>barrier-be: barrier\"])\n");
	assert_contains(s, "n6([\"Wait for Backend service deployment<br/>barrier-be: barrier, "
			   "barrier BE\"])\n");
	assert_contains(s, "  n3 --> j1\n");
	assert_contains(s, "  j1 --> n11\n");
	/* Nothing outside a quoted label holds a raw quote from a name. */
	assert_null(strstr(s, "\"hi\""));
	free(s);
}

static json_t *get(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		fail_msg("missing key %s", key);
	return v;
}

static void test_json(void **state)
{
	char *s = render(state, PLAN_FORMAT_JSON);
	json_error_t err;
	json_t *root = json_loads(s, 0, &err);
	if (!root)
		fail_msg("json: %s at %d:%d\n%s", err.text, err.line, err.column, s);
	assert_string_equal(json_string_value(get(root, "pipeline")), "multi-service");
	assert_string_equal(json_string_value(get(root, "file")), "p.yml");
	assert_string_equal(json_string_value(get(root, "on_failure")), "rollback-all");
	assert_string_equal(json_string_value(get(get(root, "vars"), "version")), "1.4.2");

	json_t *groups = get(root, "groups");
	assert_int_equal(json_array_size(groups), 2);
	json_t *g1 = json_array_get(groups, 1);
	assert_int_equal(json_integer_value(get(g1, "index")), 1);
	assert_int_equal(json_array_size(get(g1, "workflows")), 3);
	assert_string_equal(json_string_value(json_array_get(get(g1, "workflows"), 2)),
			    "verify[region=\"us\"]");

	json_t *wfs = get(root, "workflows");
	assert_int_equal(json_array_size(wfs), 5);
	json_t *be = json_array_get(wfs, 0);
	assert_string_equal(json_string_value(get(be, "name")), "backend-deploy");
	assert_string_equal(json_string_value(get(be, "on_failure")), "rollback");
	assert_int_equal(json_integer_value(get(be, "group")), 0);
	json_t *steps = get(be, "steps");
	assert_int_equal(json_array_size(steps), 3);
	json_t *st0 = json_array_get(steps, 0);
	assert_string_equal(json_string_value(get(st0, "id")), "deploy");
	assert_string_equal(json_string_value(get(st0, "kind")), "run");
	assert_string_equal(json_string_value(get(st0, "run")),
			    "./deploy.sh backend \"$LOCKSTEP_VAR_VERSION\"");
	assert_int_equal(json_integer_value(get(st0, "timeout_ms")), 300000);
	assert_int_equal(json_integer_value(get(st0, "retries")), 2);
	assert_true(json_is_false(get(st0, "continue_on_error")));
	assert_int_equal(json_integer_value(get(st0, "line")), 12);
	assert_int_equal(json_integer_value(get(st0, "col")), 9);
	json_t *st1 = json_array_get(steps, 1);
	assert_string_equal(json_string_value(get(st1, "barrier")), "BE");
	assert_null(json_object_get(st1, "run"));
	assert_null(json_object_get(st1, "timeout_ms"));
	assert_int_equal(json_array_size(get(be, "rollback")), 2);

	json_t *smoke = json_array_get(wfs, 2);
	assert_int_equal(json_integer_value(get(json_array_get(get(smoke, "steps"), 1), "wait_ms")),
			 30000);
	json_t *eu = json_array_get(wfs, 3);
	assert_string_equal(json_string_value(get(eu, "workflow")), "verify");
	assert_string_equal(json_string_value(get(get(eu, "matrix"), "region")), "eu");
	assert_string_equal(json_string_value(get(get(eu, "inputs"), "target")),
			    "https://example.com/health");
	assert_string_equal(json_string_value(get(json_array_get(get(eu, "steps"), 0), "name")),
			    NASTY_NAME);

	json_t *bars = get(root, "barriers");
	assert_int_equal(json_array_size(bars), 2);
	json_t *b0 = json_array_get(bars, 0);
	assert_string_equal(json_string_value(get(b0, "id")), "BE");
	assert_string_equal(json_string_value(get(b0, "title")), "Backend service deployment done");
	assert_int_equal(json_integer_value(get(b0, "timeout_ms")), 600000);
	json_t *parts = get(b0, "participants");
	assert_int_equal(json_array_size(parts), 2);
	assert_string_equal(json_string_value(get(json_array_get(parts, 0), "workflow")),
			    "backend-deploy");
	assert_string_equal(json_string_value(get(json_array_get(parts, 0), "step")), "barrier-be");
	assert_int_equal(json_integer_value(get(json_array_get(parts, 0), "line")), 14);
	assert_string_equal(json_string_value(get(json_array_get(parts, 1), "workflow")),
			    "frontend-deploy");
	assert_int_equal(json_integer_value(get(json_array_get(parts, 1), "line")), 22);

	json_t *rbs = get(root, "rollback_barriers");
	assert_int_equal(json_array_size(rbs), 1);
	assert_true(json_is_null(get(json_array_get(rbs, 0), "title")));
	assert_int_equal(json_array_size(get(json_array_get(rbs, 0), "participants")), 2);

	json_t *order = get(root, "rollback_order");
	assert_true(json_is_true(get(order, "earlier_groups_roll_back")));
	json_t *og = get(order, "groups");
	assert_int_equal(json_array_size(og), 2);
	json_t *og0 = json_array_get(og, 0);
	assert_int_equal(json_integer_value(get(og0, "group")), 0);
	assert_string_equal(json_string_value(json_array_get(get(og0, "rollback_barriers"), 0)),
			    "RB");
	json_t *fails = get(og0, "if_this_group_fails");
	assert_int_equal(json_array_size(fails), 2);
	assert_string_equal(json_string_value(get(json_array_get(fails, 1), "workflow")),
			    "frontend-deploy");
	assert_string_equal(json_string_value(get(json_array_get(fails, 1), "when")), "always");
	json_t *later = get(og0, "if_a_later_group_fails");
	assert_string_equal(json_string_value(get(json_array_get(later, 0), "when")), "always");
	assert_int_equal(json_array_size(get(json_array_get(later, 0), "steps")), 2);
	json_t *smoke_rb = json_array_get(get(json_array_get(og, 1), "if_this_group_fails"), 0);
	assert_string_equal(json_string_value(get(smoke_rb, "when")), "never");
	assert_string_equal(json_string_value(get(smoke_rb, "reason")), "no rollback steps");
	assert_int_equal(json_array_size(get(smoke_rb, "steps")), 0);
	json_decref(root);
	free(s);
}

/* Bytes that are not UTF-8 must not make the JSON or dot output invalid. */
static void test_invalid_utf8(void **state)
{
	struct fixture *f = *state;
	f->plan.workflows[2].steps[0].name = "bad \xff\xc3 byte \xed\xa0\x80";
	f->plan.vars.v[0].key = "k\xfe";
	char *s = render(state, PLAN_FORMAT_JSON);
	json_t *root = json_loads(s, 0, NULL);
	assert_non_null(root);
	json_t *smoke = json_array_get(json_object_get(root, "workflows"), 2);
	const char *name = json_string_value(
		json_object_get(json_array_get(json_object_get(smoke, "steps"), 0), "name"));
	assert_string_equal(name, "bad \xef\xbf\xbd\xef\xbf\xbd byte "
				  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_non_null(json_object_get(json_object_get(root, "vars"), "k\xef\xbf\xbd"));
	json_decref(root);
	free(s);
	s = render(state, PLAN_FORMAT_DOT);
	assert_dot_renders(s);
	free(s);
	s = render(state, PLAN_FORMAT_TEXT);
	assert_contains(s, "bad \xef\xbf\xbd\xef\xbf\xbd byte");
	free(s);
}

/*
 * A plan with nothing in it, and one whose workflows have no steps and
 * whose barrier names a workflow that does not exist: every format still
 * renders something valid instead of crashing.
 */
static void test_degenerate(void **state)
{
	struct pipeline pipe = { .name = "empty", .on_failure = ON_FAILURE_STOP };
	struct plan plan = { .pipeline = &pipe };
	struct buf out = BUF_INIT;

	plan_render(&plan, PLAN_FORMAT_TEXT, &out);
	assert_string_equal(
		out.s,
		"pipeline empty\n  on-failure  stop\n\nbarriers: none\n\n"
		"rollback barriers: none\n\nrollback order\n"
		"  A failed workflow runs its rollback list when its on-failure is rollback.\n"
		"  The workflows of the failed group roll back in parallel, ordered among\n"
		"  themselves only by rollback barriers; a workflow that does not roll back\n"
		"  withdraws from them.\n"
		"  Pipeline on-failure is stop: earlier groups stay deployed.\n");
	buf_reset(&out);
	plan_render(&plan, PLAN_FORMAT_DOT, &out);
	assert_dot_renders(out.s);
	buf_reset(&out);
	plan_render(&plan, PLAN_FORMAT_MERMAID, &out);
	assert_string_equal(out.s, "flowchart LR\n  %% pipeline empty\n");
	buf_reset(&out);
	plan_render(&plan, PLAN_FORMAT_JSON, &out);
	json_t *root = json_loads(out.s, 0, NULL);
	assert_non_null(root);
	assert_true(json_is_null(json_object_get(root, "file")));
	assert_int_equal(json_array_size(json_object_get(root, "groups")), 0);
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(root, "rollback_order"), "groups")),
		0);
	json_decref(root);

	struct workflow src = { .name = "w" };
	struct plan_workflow wfs[2] = { { .name = "a", .src = &src },
					{ .name = "b", .src = &src, .group = 1 } };
	size_t ga[] = { 0 }, gb[] = { 1 };
	struct plan_group groups[2] = { { ga, 1 }, { gb, 1 } };
	struct plan_barrier_use uses[] = { { 7, 0 }, { 0, 3 } };
	struct plan_barrier bar = { .id = "X", .uses = uses, .nuses = 2 };
	plan.workflows = wfs;
	plan.nworkflows = 2;
	plan.groups = groups;
	plan.ngroups = 2;
	plan.barriers = &bar;
	plan.nbarriers = 1;
	for (int fmt = PLAN_FORMAT_TEXT; fmt <= PLAN_FORMAT_JSON; fmt++) {
		buf_reset(&out);
		plan_render(&plan, (enum plan_format)fmt, &out);
		assert_true(out.len > 0);
		if (fmt == PLAN_FORMAT_DOT)
			assert_dot_renders(out.s);
	}
	buf_release(&out);
}

/*
 * Thousands of sequential stages: the rollback order must not list every
 * earlier group under every failing one (quadratic output), and dot must
 * still render.
 */
static void test_many_groups(void **state)
{
	enum { NG = 2000 };
	struct arena a = ARENA_INIT;
	struct pipeline pipe = { .name = "long", .on_failure = ON_FAILURE_ROLLBACK_ALL };
	struct workflow src = { .name = "w" };
	struct step run = { .kind = STEP_RUN };
	struct plan plan = { .pipeline = &pipe, .ngroups = NG, .nworkflows = NG };
	plan.groups = arena_array(&a, NG, sizeof(*plan.groups));
	plan.workflows = arena_array(&a, NG, sizeof(*plan.workflows));
	for (size_t g = 0; g < NG; g++) {
		struct plan_workflow *w = &plan.workflows[g];
		w->name = arena_printf(&a, "w%zu", g);
		w->src = &src;
		w->group = g;
		w->nsteps = w->nrollback = 1;
		w->steps = arena_alloc(&a, sizeof(*w->steps));
		w->rollback = arena_alloc(&a, sizeof(*w->rollback));
		*w->steps = (struct plan_step){ .src = &run, .id = "step-1", .name = "go" };
		*w->rollback =
			(struct plan_step){ .src = &run, .id = "rollback-1", .name = "undo" };
		plan.groups[g].wfs = arena_alloc(&a, sizeof(size_t));
		plan.groups[g].wfs[0] = g;
		plan.groups[g].n = 1;
	}
	struct buf out = BUF_INIT;
	plan_render(&plan, PLAN_FORMAT_TEXT, &out);
	assert_true(out.len < 2 * 1024 * 1024);
	assert_contains(out.s, "  if group 2000 fails:\n    1. group 2000\n");
	assert_contains(out.s, "    2. then groups 1999 to 1, newest first: every workflow with "
			       "rollback steps rolls back (rollback-all)\n");
	assert_contains(out.s, "  if group 2 fails:\n    1. group 2\n"
			       "       w1  rollback-1\n    2. then group 1: every workflow");
	buf_reset(&out);
	plan_render(&plan, PLAN_FORMAT_JSON, &out);
	assert_true(out.len < 8 * 1024 * 1024);
	buf_reset(&out);
	plan.ngroups = plan.nworkflows = 300; /* dot is slow on huge graphs; 300 lanes suffice */
	plan_render(&plan, PLAN_FORMAT_DOT, &out);
	assert_int_equal(count(out.s, "subgraph cluster_"), 600);
	assert_dot_renders(out.s);
	buf_release(&out);
	arena_release(&a);
}

/* ---- memory of the JSON rendering ---- */

/* jansson's allocations, counted by their usable size (a block may be freed with free()). */
static size_t json_in_use, json_peak;

static void *counting_malloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		return NULL;
	json_in_use += malloc_usable_size(p);
	if (json_in_use > json_peak)
		json_peak = json_in_use;
	return p;
}

static void counting_free(void *p)
{
	if (!p)
		return;
	json_in_use -= malloc_usable_size(p);
	free(p);
}

/*
 * The JSON document of a plan is written workflow by workflow: jansson
 * holds one workflow's tree at a time, not the whole plan's (about 2 KB
 * a step, 5 GB for the plan of a 5 KB matrix file). The output is the
 * layout json_dumps() gives the whole document, byte for byte.
 */
static void test_json_memory_is_per_workflow(void **state)
{
	(void)state;
	enum { NW = 2000, NS = 10 };
	struct arena a = ARENA_INIT;
	struct pipeline pipe = { .name = "wide", .file = "wide.yml", .on_failure = ON_FAILURE_STOP };
	struct workflow src = { .name = "w", .on_failure = ON_FAILURE_ROLLBACK };
	struct step run = { .kind = STEP_RUN }, cross = { .kind = STEP_BARRIER };
	struct plan plan = { .pipeline = &pipe, .ngroups = 1, .nworkflows = NW };
	plan.groups = arena_alloc(&a, sizeof(*plan.groups));
	plan.groups[0].wfs = arena_array(&a, NW, sizeof(size_t));
	plan.groups[0].n = NW;
	plan.workflows = arena_array(&a, NW, sizeof(*plan.workflows));
	/* Every workflow ends at barrier "all" and has a rollback step. */
	struct plan_barrier all = { .id = "all", .timeout_ms = DEFAULT_BARRIER_TIMEOUT_MS, .nuses = NW };
	all.uses = arena_array(&a, NW, sizeof(*all.uses));
	plan.barriers = &all;
	plan.nbarriers = 1;
	for (size_t w = 0; w < NW; w++) {
		struct plan_workflow *pw = &plan.workflows[w];
		pw->name = arena_printf(&a, "w[n=%zu]", w);
		pw->src = &src;
		pw->nsteps = NS;
		pw->steps = arena_array(&a, NS, sizeof(*pw->steps));
		for (size_t i = 0; i + 1 < NS; i++)
			pw->steps[i] = (struct plan_step){
				.src = &run, .id = arena_printf(&a, "step-%zu", i + 1),
				.name = "deploy", .run = arena_printf(&a, "echo %s", pw->name),
			};
		pw->steps[NS - 1] = (struct plan_step){ .src = &cross, .id = "meet", .name = "barrier all",
						       .barrier = "all" };
		all.uses[w] = (struct plan_barrier_use){ w, NS - 1 };
		pw->nrollback = 1;
		pw->rollback = arena_alloc(&a, sizeof(*pw->rollback));
		*pw->rollback = (struct plan_step){ .src = &run, .id = "undo", .name = "undo", .run = "undo" };
		plan.groups[0].wfs[w] = w;
	}
	struct buf out = BUF_INIT;
	json_in_use = json_peak = 0;
	json_set_alloc_funcs(counting_malloc, counting_free);
	plan_render(&plan, PLAN_FORMAT_JSON, &out);
	json_set_alloc_funcs(malloc, free);
	/* The output is about 6 MB; a tree of the whole plan would be about 20 MB. */
	if (json_peak > 256 * 1024)
		fail_msg("jansson held %zu bytes at once for a plan of %d steps", json_peak, NW * NS);
	assert_int_equal(json_in_use, 0);

	json_error_t err;
	json_t *root = json_loads(out.s, 0, &err);
	if (!root)
		fail_msg("not JSON: %s at line %d", err.text, err.line);
	const json_t *wfs = json_object_get(root, "workflows");
	assert_int_equal(json_array_size(wfs), NW);
	const json_t *last = json_array_get(wfs, NW - 1);
	assert_string_equal(json_string_value(json_object_get(last, "name")), "w[n=1999]");
	assert_int_equal(json_array_size(json_object_get(last, "steps")), NS);
	const json_t *bars = json_object_get(root, "barriers");
	assert_int_equal(json_array_size(json_object_get(json_array_get(bars, 0), "participants")), NW);
	const json_t *order = json_object_get(json_object_get(root, "rollback_order"), "groups");
	assert_int_equal(json_array_size(json_object_get(json_array_get(order, 0), "if_this_group_fails")), NW);
	char *whole = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	assert_non_null(whole);
	assert_int_equal(out.len, strlen(whole) + 1);
	assert_memory_equal(out.s, whole, strlen(whole));
	free(whole);
	json_decref(root);
	buf_release(&out);
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dot_direct_group_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mermaid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
		cmocka_unit_test(test_degenerate),
		cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_json_memory_is_per_workflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
