/*
 * codec: an event as the JSON object of docs/events.md, and back.
 *
 * event_to_json writes the line `lockstep run --json` prints and the store
 * keeps verbatim; event_decode reads such a line back (resume replays a
 * run from them, `show` and `logs` fold them into a run view). Decoding is
 * the inverse of encoding for every field the encoding writes; mono_ms,
 * which no line holds, is left 0.
 */
#ifndef LS_EVENTS_CODEC_H
#define LS_EVENTS_CODEC_H

#include "base/arena.h"
#include "base/buf.h"
#include "events/events.h"

/* Appends `ev` as one JSON object (no newline), fields in the order of docs/events.md. */
void event_to_json(const struct event *ev, struct buf *out);
/*
 * Decodes the event of type `type` ("step.finished") whose JSON object is
 * `json` (both borrowed) into `out`, its strings and arrays allocated in
 * `a`: seq, run and ts_ms too, from the object's `seq`, `run` and `ts`.
 * Returns 0, or -1 for an unknown type or text that is not a JSON object.
 */
int event_decode(const char *type, const char *json, struct event *out, struct arena *a);

#endif
