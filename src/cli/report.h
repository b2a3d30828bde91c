/*
 * report: what the commands that read the store share: run ids, `lockstep
 * runs` (the table and its JSON), and the pieces of JSON and time that
 * `show` prints too. The commands in cli/ parse their options and call
 * these; `show` is cli/show.h, `logs` cli/logs_view.h.
 */
#ifndef LS_CLI_REPORT_H
#define LS_CLI_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/*
 * Parses a run id: a decimal integer from 1 to STORE_RUN_ID_MAX, in
 * digits only (base/num.h). Returns false for anything else.
 */
bool report_parse_run_id(const char *s, uint64_t *id);

/* `runs`: a table (id, pipeline, status, started, duration), newest first. */
void report_runs_text(const struct store_run_list *l, FILE *out);
/* `runs --json`: one JSON array of runs. */
void report_runs_json(const struct store_run_list *l, FILE *out);

/* Local time, to the second ("2026-01-02 03:04:05"): what a person compares with a clock. */
void report_local_time(int64_t ms, char *out, size_t n);
/* A JSON string, or null for NULL; bytes that are not UTF-8 become '?'. */
json_t *report_json_str(const char *s);
/* A time as JSON (RFC 3339 UTC, as events have it), or null for 0. */
json_t *report_json_ts(int64_t ms);
/* `to - from` as JSON, or null when either is unknown or `to` is earlier. */
json_t *report_json_duration(int64_t from, int64_t to);
/* The run's facts as `runs --json` and `show --json` give them, set in `o`. */
void report_run_info_json(json_t *o, const struct store_run_info *ri);
/* Prints `doc` (and takes it) as one compact line. */
void report_json_print(json_t *doc, FILE *out);

#endif
