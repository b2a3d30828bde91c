/*
 * recorded: the run view (events/view.h) of a run the store recorded, for
 * `show` and `logs`. Its skeleton is the snapshot of the plan the store
 * kept when the run began (workflows with their steps, barriers with
 * their participants), so that what never started is listed too; then
 * its recorded events are replayed onto it in seq order, and each
 * attempt gets the pid the store recorded for its process (the
 * step.process events reach only the store).
 */
#ifndef LS_CLI_RECORDED_H
#define LS_CLI_RECORDED_H

#include "base/buf.h"
#include "events/view.h"
#include "store/store.h"

/*
 * A view (VIEW_DETAIL) whose skeleton is `r`'s snapshot, before any
 * event. `r` is borrowed and must outlive the view: a reader that loads
 * the run again to follow it keeps the first load for the view.
 */
struct run_view *recorded_view_new(const struct store_run *r);
/*
 * Applies recorded event `se` (borrowed). Returns 0, or -1 when it cannot
 * be read back (an unknown type, JSON that is not an object): it is left
 * out.
 */
int recorded_view_apply(struct run_view *v, const struct store_event *se);
/* Gives each attempt of the view the pid the store recorded for it. */
void recorded_view_pids(struct run_view *v, const struct store_run *r);
/*
 * The view of `r` as it was loaded (with STORE_LOAD_EVENTS): its
 * skeleton, every event, the pids. Events that cannot be read back are
 * left out. Free it with view_free; `r` must outlive it.
 */
struct run_view *recorded_view_load(const struct store_run *r);

#endif
