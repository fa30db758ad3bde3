/* htmlreport: index.html of a kiln run results folder, one self-contained
 * page (all CSS inline, SVGs as data: URIs, no script but the flamegraphs'
 * own) with the run's header, headline cards, budget verdicts, the CPU and
 * off-CPU flamegraphs and top functions, heap and memory charts and tables,
 * leaks, and relative links to the folder's raw files.
 * Invariant: a file the summary names but the folder lacks (or cannot be
 * read) costs its section one note, never the page. */
#ifndef KILN_RENDER_HTMLREPORT_H
#define KILN_RENDER_HTMLREPORT_H

#include <stdio.h>

#include "base/error.h"
#include "format/runsummary.h"

#define HTMLREPORT_FILE "index.html"

/* Writes the page for s to out; dir is the folder the summary's files are
 * read from. Returns 0, or -EIO when out reports a write error. */
int htmlreport_write(const struct runsummary *s, const char *dir, FILE *out, struct diag *d);

/* Reads DIR/summary.json and (re)writes DIR/index.html through a temporary
 * file and rename. Returns 0, runsummary_read()'s errors (d says why), or
 * -errno when the page cannot be written. */
int htmlreport_write_dir(const char *dir, struct diag *d);

#endif
