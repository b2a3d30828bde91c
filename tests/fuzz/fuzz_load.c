/*
 * fuzz_load: the whole front end on arbitrary bytes. Loads the input as a
 * pipeline file, and when it loads, builds, checks and renders its plan in
 * every format. Beyond "no crash, no leak, no sanitizer report", it checks
 * the contracts that say a NULL result always comes with an error.
 *
 * Corpus: tests/fuzz/corpus/load/. Built with libFuzzer (clang) or with
 * replay.c, which runs the corpus in every check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/xalloc.h"
#include "pipeline/check.h"
#include "pipeline/expand.h"
#include "pipeline/graph.h"
#include "pipeline/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Plans with more instances than this are built and checked but not
 * rendered: a 300-byte matrix can legally expand to 100,000 instances and
 * over 100 MB of renderings, seconds per input under the sanitizers, which
 * the fuzzer would report as timeouts. Rendering cost at scale belongs to
 * bench/, not here.
 */
#define FUZZ_MAX_RENDERED_INSTANCES 1000

/* A broken contract is a finding: abort so the fuzzer keeps the input. */
static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_load: contract broken: %s\n", what);
		abort();
	}
}

static void render_all(const struct plan *plan)
{
	static const enum plan_format formats[] = {
		PLAN_FORMAT_TEXT, PLAN_FORMAT_DOT, PLAN_FORMAT_MERMAID, PLAN_FORMAT_JSON,
	};
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		buf_reset(&out);
		plan_render(plan, formats[i], &out);
		require(strlen(out.s) == out.len, "plan_render output holds a NUL byte");
	}
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The loader takes NUL-terminated text with its length. */
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("fuzz.yml", text, size, &d);
	if (!p) {
		require(d.errors > 0, "pipeline_load_text returned NULL without an error");
	} else {
		size_t before = d.errors;
		struct plan *plan = plan_build(p, NULL, &d);
		if (!plan) {
			require(d.errors > before, "plan_build returned NULL without an error");
		} else {
			before = d.errors;
			size_t found = plan_check(plan, &d);
			require(d.errors - before == found, "plan_check miscounted its errors");
			if (plan->nworkflows <= FUZZ_MAX_RENDERED_INSTANCES)
				render_all(plan);
			plan_free(plan);
		}
		pipeline_free(p);
	}

	/* Diagnostics quote user text: sorting and JSON must cope with any. */
	diag_sort(&d);
	char *json = diag_to_json(&d);
	free(json);
	diag_release(&d);
	free(text);
	return 0;
}
