/* sampler: samples the call stacks of processes with perf_event_open and
 * hands every record to a sink: samples (with the kernel callchain, and
 * for DWARF unwinding the user registers and a copy of the user stack),
 * and the side-band records (mmap, comm, fork, exit, lost, switch) that
 * keep a model of the processes' address spaces up to date.
 * Invariant: one ring buffer per CPU; every other event on that CPU writes
 * into it (PERF_EVENT_IOC_SET_OUTPUT), so records of a CPU arrive in order. */
#ifndef KILN_COLLECT_SAMPLER_H
#define KILN_COLLECT_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

enum sampler_event {
	SAMPLER_CPU_CLOCK,
	SAMPLER_TASK_CLOCK,
	SAMPLER_CYCLES, /* hardware; falls back to cpu-clock where missing */
};

enum sampler_callgraph {
	SAMPLER_CG_FP,    /* the kernel's frame-pointer callchain */
	SAMPLER_CG_DWARF, /* registers + user stack copy, unwound with CFI */
	SAMPLER_CG_AUTO,  /* both: CFI where it exists, frame pointers else */
};

struct sampler_options {
	unsigned freq;         /* samples per second per thread */
	enum sampler_event event;
	enum sampler_callgraph callgraph;
	unsigned stack_size;   /* bytes of user stack copied per sample */
	bool no_inherit;       /* do not follow children and new threads */
	bool off_cpu;          /* also sample context switches */
	bool user_only;        /* user space only: no kernel samples or callchains
	                        * (allowed at perf_event_paranoid 2 without privilege) */
	unsigned ring_pages;   /* data pages per CPU ring, a power of two */
};

struct sampler_sample {
	uint32_t pid, tid, cpu;
	uint64_t time, period;
	uint64_t ip;               /* where the sample was taken */
	const uint64_t *callchain; /* raw, with PERF_CONTEXT_* markers */
	size_t ncallchain;
	const uint64_t *regs;      /* user registers (symbolize.h order), or NULL */
	const void *stack;         /* the copied user stack, or NULL */
	size_t stack_len;
	bool context_switch;       /* from the off-CPU (context switch) event */
};

struct sampler_sink {
	void (*sample)(void *ctx, const struct sampler_sample *s);
	void (*mmap)(void *ctx, uint32_t pid, uint64_t start, uint64_t len, uint64_t pgoff,
		     const char *path, const unsigned char *build_id, size_t build_id_len, bool exec);
	void (*comm)(void *ctx, uint32_t pid, uint32_t tid, const char *comm, bool exec);
	void (*fork)(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid);
	void (*exit)(void *ctx, uint32_t pid, uint32_t tid);
	/* a thread went off (out) or came back on (!out) a CPU; preempted:
	 * it went off while still runnable (not blocked) */
	void (*switch_cpu)(void *ctx, uint32_t pid, uint32_t tid, uint64_t time, bool out,
			   bool preempted);
	void *ctx;
};

struct sampler_stats {
	unsigned long samples, lost, throttled, records;
	unsigned ncpus, nevents;
	bool fell_back;        /* the requested event was missing; cpu-clock used */
};

struct sampler;

/* Opens sampling events on pids (and every thread of each; threads and
 * children created later follow unless no_inherit). pid <= 0 with n == 0
 * and system true samples every process. Events start disabled. Returns 0
 * or a negative code with a message in d (e.g. -EACCES with the
 * perf_event_paranoid advice, -ESRCH for a pid that does not exist). */
int sampler_open(struct sampler **out, const struct sampler_options *o, const pid_t *pids,
		 size_t npids, bool system, bool enable_on_exec, struct diag *d);
int sampler_enable(struct sampler *s);
int sampler_disable(struct sampler *s);
/* Waits up to timeout_ms for data, then hands every record read to sink.
 * Returns the number of records, or a negative code (-EINTR passes
 * through so a signal can stop the caller's loop). */
int sampler_poll(struct sampler *s, int timeout_ms, const struct sampler_sink *sink);
/* Reads whatever is left in the rings, without waiting. */
int sampler_drain(struct sampler *s, const struct sampler_sink *sink);
void sampler_get_stats(const struct sampler *s, struct sampler_stats *st);
void sampler_close(struct sampler *s); /* accepts NULL */

#endif
