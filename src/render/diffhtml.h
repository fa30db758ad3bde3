/* diffhtml: diff.html, kiln diff's page for two results folders: the two
 * runs' commands, headline changes as cards, the figures before and after,
 * the differential flamegraph (embedded, interactive) and the functions
 * whose self share changed most. Self-contained, in index.html's style.
 * Invariant: built from what the caller hands in; reads no file. */
#ifndef KILN_RENDER_DIFFHTML_H
#define KILN_RENDER_DIFFHTML_H

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"
#include "format/runsummary.h"
#include "model/folddiff.h"

#define DIFFHTML_FILE "diff.html"

struct diffhtml {
	const char *label_a, *label_b; /* the folders as given */
	const struct runsummary *a, *b;
	const struct folddiff_row *shares; /* sorted by |delta|, desc */
	size_t nshares;
	bool shares_from_profiles; /* else from the summaries' top lists */
	const char *svg;           /* the differential flamegraph, or NULL */
	size_t svg_len;
	const char *svg_note;      /* why there is none, when svg is NULL */
};

/* Appends the whole page to sb. */
void diffhtml_build(const struct diffhtml *in, struct strbuf *sb);

#endif
