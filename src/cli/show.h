/*
 * show: what `lockstep show` prints of a recorded run, as text for people
 * and as one JSON document for tools (docs/cli.md#lockstep-show): the
 * run's facts from the store, everything else from its run view
 * (cli/recorded.h).
 */
#ifndef LS_CLI_SHOW_H
#define LS_CLI_SHOW_H

#include <stdio.h>

#include "events/view.h"
#include "store/store.h"

/*
 * The run (`ri`), its workflows and steps, barriers, failure chain and
 * warnings, as `v` has them.
 */
void show_text(const struct store_run_info *ri, const struct run_view *v, FILE *out);
/*
 * The same facts as one JSON document, and the run's events as recorded
 * (`r`, loaded with STORE_LOAD_EVENTS, of which `v` is the view).
 */
void show_json(const struct store_run *r, const struct run_view *v, FILE *out);

#endif
