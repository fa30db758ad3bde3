/* run-results: kiln run's results folder, from what the run recorded: the
 * CPU profile (cpu.pb.gz, flame.svg, report.txt, offcpu.*), the heap trace's
 * analysis (heap.pb.gz, heap.svg, leaks.txt), the memory samples (mem.csv,
 * mem.svg), summary.json and index.html; then the short human summary.
 * Invariant: every part is written even when another fails (a failure is
 * printed and makes the result EXIT_FAIL); summary.json lists only files
 * that were written. */
#ifndef KILN_CLI_RUN_RESULTS_H
#define KILN_CLI_RUN_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "collect/procmem.h"
#include "model/profile.h"

struct run_record {
	const char *dir;      /* the results folder */
	const char *name;     /* the target's basename */
	char **argv;          /* the target command */
	size_t argc;
	struct timespec started; /* wall clock at the target's start */
	double duration_s;       /* its start to its end */
	int target_status;       /* wait status; -1 when it never ran */
	int stopped_by;          /* the harshest signal kiln sent it; 0: it ended by itself */
	const char *load_command; /* NULL: none */
	int load_exit;            /* its exit code; -1: not run, killed, or stopped at --duration */
	double load_s;
	struct profile *cpu;      /* NULL: no CPU profile */
	bool off_cpu;             /* cpu has off_cpu and wall sample types */
	unsigned freq;
	bool heap;                /* the heap tracker ran: DIR/heap.kht */
	bool mem;                 /* memory was sampled (samples may be 0) */
	const struct procmem_sample *mem_samples;
	size_t nmem;
};

/* Writes everything into r->dir and prints the summary on stdout (unless
 * quiet). Returns EXIT_OK or EXIT_FAIL. */
int run_results_write(const struct run_record *r, bool quiet);

#endif
