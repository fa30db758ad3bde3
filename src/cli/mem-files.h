/* mem-files: the files kiln mem writes (and kiln run's mem.csv, mem.svg):
 * every sample as CSV or JSON, and the chart of RSS, anon and heap.
 * Invariant: a metric a sample lacks is an empty CSV cell or a JSON null,
 * never a zero; each file is written whole or not at all (outfile). */
#ifndef KILN_CLI_MEM_FILES_H
#define KILN_CLI_MEM_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "analyze/memtrend.h"
#include "collect/procmem.h"

struct mem_run_info {
	pid_t pid;
	const char *target; /* the command's name or "pid N" */
	double interval;
	const char *why;
	int child_status; /* -1 when not a launched command that ended */
};

/* Each returns EXIT_OK, or prints the error and returns EXIT_FAIL. */
int mem_write_csv(const char *path, const struct procmem_sample *s, size_t n);
int mem_write_json(const char *path, const struct procmem_sample *s, size_t n, const struct mem_run_info *ri,
		   const struct memtrend *mt, bool have_trend);
int mem_write_svg(const char *path, const struct procmem_sample *s, size_t n, const struct mem_run_info *ri,
		  const struct memtrend *mt);

#endif
