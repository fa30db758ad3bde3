/* perfdata-import: turns a perf.data file recorded on this machine into a
 * CPU profile: perfdata.c's records feed a cpuprof, which unwinds (the
 * kernel's frame-pointer callchain, or DWARF CFI on perf's register and
 * stack copies) and symbolizes with the ELF files on the local disk.
 * Invariant: memory grows with distinct stacks, not with the file size. */
#ifndef KILN_COLLECT_PERFDATA_IMPORT_H
#define KILN_COLLECT_PERFDATA_IMPORT_H

#include <stdbool.h>

#include "base/error.h"
#include "collect/cpuprof.h"
#include "format/perfdata.h"
#include "model/profile.h"

struct perfdata_import_stats {
	struct perfdata_stats file;
	struct cpuprof_stats prof;
	bool dwarf; /* the samples carried user registers and stacks */
};

/* Reads the perf.data on fd (a seekable regular file) into *out, which the
 * caller releases with profile_release() on success (untouched on error).
 * Stacks have the thread's name as their root frame, as `perf script |
 * kiln collapse` shows them; the default sample type is cpu, the sum of
 * the samples' periods (nanoseconds for cpu-clock), which is what perf
 * script's text gives kiln collapse too.
 * st (may be NULL) gets counts. Returns 0 or a negative code with d. */
int perfdata_import(int fd, struct profile *out, struct perfdata_import_stats *st, struct diag *d);

#endif
