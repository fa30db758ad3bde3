/* profile-files: writing a profile as a pprof file or a flamegraph, and a
 * heap trace's analysis as its heap-over-time chart: the file writers kiln
 * record, kiln heap and kiln run share.
 * Invariant: each file is written through outfile (whole, or an error and
 * no file); errors are printed here and returned as EXIT_FAIL. */
#ifndef KILN_CLI_PROFILE_FILES_H
#define KILN_CLI_PROFILE_FILES_H

#include "analyze/heapstats.h"
#include "model/profile.h"

/* p as gzipped profile.proto. */
int cli_write_pprof(const struct profile *p, const char *path);
/* p's stacks at value_index (-1: the default sample type) as a flamegraph
 * SVG titled title, counting countname ("ns"). An empty profile gives the
 * flamegraph's empty picture. */
int cli_write_flame(const struct profile *p, int value_index, const char *path, const char *title,
		    const char *countname);
/* The heap (and RSS) over time of an analysed trace; title says of what. */
int cli_write_heapchart(const struct heapstats *h, const char *path, const char *what);

#endif
