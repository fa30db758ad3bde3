/* cpuprof: turns the sampler's records into a CPU profile while recording:
 * each sample's stack is unwound (kernel callchain, then the user stack by
 * frame pointers or DWARF CFI), every address is resolved to a location
 * once, and identical stacks of a thread are counted together; at the end
 * the aggregate becomes a pprof-style profile.
 * Invariant: memory grows with distinct stacks and locations, never with
 * the number of samples; nothing is written to disk while recording. */
#ifndef KILN_COLLECT_CPUPROF_H
#define KILN_COLLECT_CPUPROF_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/sampler.h"
#include "model/profile.h"
#include "symbolize/symbolize.h"

struct cpuprof_options {
	enum sampler_callgraph callgraph;
	unsigned freq;
	bool off_cpu;
	/* the records come from a file, not live processes: never read
	 * /proc for mappings or thread names (the pids may be reused) */
	bool offline;
};

struct cpuprof_stats {
	unsigned long samples;        /* CPU samples counted */
	unsigned long switches;       /* off-CPU intervals counted */
	unsigned long truncated;      /* user stacks that did not reach their outermost frame */
	unsigned long user_unwound;   /* samples with a user stack */
	unsigned long stacks;         /* distinct stacks */
	unsigned long locations;      /* distinct locations */
	unsigned long unknown;        /* addresses in no known mapping */
	unsigned long processes;      /* processes seen */
};

struct cpuprof;

/* sym is borrowed and must outlive the cpuprof. */
struct cpuprof *cpuprof_new(const struct cpuprof_options *o, struct symbolizer *sym);
void cpuprof_free(struct cpuprof *c); /* accepts NULL */

/* A sink for sampler_poll(): feeds samples and side-band records (mmap,
 * comm, fork, exit, switch) into c and its symbolizer. */
void cpuprof_sink(struct cpuprof *c, struct sampler_sink *sink);

/* Tells c about a process that was running before recording began: loads
 * its mappings and thread names from /proc. Returns 0 or -errno. */
int cpuprof_add_process(struct cpuprof *c, int pid);

/* Builds the profile: sample types samples/count and cpu/nanoseconds (and
 * off_cpu/nanoseconds, wall/nanoseconds with off_cpu), labels pid, thread
 * (tid) and thread_name, locations with mappings, build ids and inlined
 * lines. duration_ns and time_ns go into the profile's header. */
int cpuprof_build(struct cpuprof *c, struct profile *out, int64_t time_ns, int64_t duration_ns);
void cpuprof_get_stats(const struct cpuprof *c, struct cpuprof_stats *st);

#endif
