/*
 * graph: the plan rendered for people and tools.
 *   text     groups, workflow instances with their steps, barriers with
 *            participants, timeouts and positions, rollback lists and the
 *            order in which rollbacks would run
 *   dot      Graphviz: one cluster (lane) per workflow, barriers as nodes
 *            joining their participants
 *   mermaid  a flowchart with the same shape as dot
 *   json     one document with every fact of the text form
 */
#ifndef LS_GRAPH_H
#define LS_GRAPH_H

#include "base/buf.h"
#include "pipeline/model.h"

enum plan_format { PLAN_FORMAT_TEXT, PLAN_FORMAT_DOT, PLAN_FORMAT_MERMAID, PLAN_FORMAT_JSON };

/* Parses "text", "dot", "mermaid" or "json"; returns -1 for anything else. */
int plan_format_parse(const char *s, enum plan_format *out);
/* Appends the rendering of `plan` to `out`. */
void plan_render(const struct plan *plan, enum plan_format fmt, struct buf *out);

#endif
