/*
 * Durations as written in pipeline files: `250ms`, `30s`, `10m`, `2h`,
 * `1h30m`, `1m30s500ms`; a bare integer is seconds. Units must appear in
 * decreasing order, each at most once. Values are milliseconds.
 */
#ifndef LS_DURATION_H
#define LS_DURATION_H

#include <stdint.h>
#include <stddef.h>

/* The largest accepted duration: 366 days. */
#define DURATION_MAX_MS (366ULL * 24 * 3600 * 1000)

/*
 * Parses `s` into milliseconds. Returns 0, or -1 with a short reason in
 * `*why` (a static string) when the text is not a duration.
 */
int duration_parse(const char *s, uint64_t *ms, const char **why);
/* Formats `ms` in the shortest canonical form (`1h30m`, `250ms`, `0s`). */
void duration_format(uint64_t ms, char *out, size_t outsz);
/*
 * Formats how long something took, for a person reading a summary:
 * `250ms` under a second, `12.3s` under a minute, `4m05s` under an hour,
 * then `1h05m` (seconds no longer matter). Every duration lockstep shows
 * after the fact (progress lines, the summary, `show`, `logs`) is
 * written so.
 */
void duration_format_elapsed(uint64_t ms, char *out, size_t outsz);

#endif
