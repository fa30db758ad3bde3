/* perfdata: a streaming reader of perf's binary perf.data format (the
 * "PERFILE2" file and its pipe-mode variant): header, event attributes and
 * their ids, the HEADER_BUILD_ID feature, and the data section's records,
 * handed one by one to a struct perfdata_sink.
 * Invariant: memory is bounded by one read window and the attributes, never
 * by the file size; every length and offset is checked against the file
 * before it is used, so garbage gives an error code, never a crash. */
#ifndef KILN_FORMAT_PERFDATA_H
#define KILN_FORMAT_PERFDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* One event's perf_event_attr (the fields kiln uses) and its sample ids. */
struct perfdata_attr {
	uint32_t type, size;
	uint64_t config;
	uint64_t sample_period; /* or sample_freq when freq */
	uint64_t sample_type;   /* PERF_SAMPLE_* bits */
	uint64_t read_format;   /* PERF_FORMAT_* bits */
	uint64_t flags;         /* the bit-field word: disabled, inherit, ... */
	uint64_t branch_sample_type;
	uint64_t sample_regs_user;
	uint32_t sample_stack_user;
	uint64_t sample_regs_intr;
	bool freq, sample_id_all;
	const uint64_t *ids; /* the sample ids of this event */
	size_t nids;
};

/* A PERF_RECORD_SAMPLE, decoded by its attr's sample_type. Fields the
 * sample_type lacks are 0 / NULL. Pointers point into the reader's buffer
 * and are valid only during the callback; arrays are 8-byte aligned. */
struct perfdata_sample {
	const struct perfdata_attr *attr;
	uint16_t misc;             /* PERF_RECORD_MISC_* (cpumode) */
	uint64_t ip, time, addr, id, stream_id, period;
	uint32_t pid, tid, cpu;
	const uint64_t *callchain; /* raw, with PERF_CONTEXT_* markers */
	size_t ncallchain;
	uint64_t regs_abi;         /* PERF_SAMPLE_REGS_ABI_*; 0: no user regs */
	const uint64_t *regs;      /* one per bit of attr->sample_regs_user, ascending */
	size_t nregs;
	const void *stack;         /* the user stack copy (its valid part) */
	size_t stack_len;
};

/* A PERF_RECORD_MMAP or MMAP2. */
struct perfdata_mmap {
	uint32_t pid, tid;         /* pid (uint32_t)-1 is the kernel */
	uint64_t start, len, pgoff;
	const char *path;
	const unsigned char *build_id; /* from MMAP2 with a build id, else NULL */
	size_t build_id_len;
	uint32_t prot, flags;      /* MMAP2 only; 0 for MMAP */
	bool exec;                 /* executable mapping */
};

/* Every callback may be NULL. A non-zero return stops the reader, which
 * returns that value. Strings are NUL-terminated and valid only during the
 * call. Build ids of the HEADER_BUILD_ID feature come before the data
 * section's records (in pipe mode, where perf writes them). */
struct perfdata_sink {
	int (*attr)(void *ctx, const struct perfdata_attr *a);
	int (*sample)(void *ctx, const struct perfdata_sample *s);
	int (*mmap)(void *ctx, const struct perfdata_mmap *m);
	int (*comm)(void *ctx, uint32_t pid, uint32_t tid, const char *comm, bool exec);
	int (*fork)(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid, uint32_t ptid);
	int (*exit)(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid, uint32_t ptid);
	int (*lost)(void *ctx, uint64_t id, uint64_t count);
	int (*build_id)(void *ctx, int32_t pid, const char *path, const unsigned char *id,
			size_t len);
	void *ctx;
};

struct perfdata_stats {
	bool pipe;                 /* pipe-mode file (perf record -o -) */
	unsigned long nattrs;
	unsigned long records;     /* records of the data section */
	unsigned long samples;     /* samples delivered */
	unsigned long bad_samples; /* samples skipped: unknown id, cut short */
	unsigned long long lost;   /* samples the kernel lost (PERF_RECORD_LOST) */
	unsigned long long data_bytes;
};

/* Reads the perf.data file open on fd (read with pread: fd must be a
 * seekable regular file; its offset is not used) and feeds sink. st (may be
 * NULL) gets counts. Returns 0, the sink's non-zero value, or a negative
 * code with d (may be NULL) saying what and at which offset:
 * KILN_ERR_FORMAT (bad magic, sizes, offsets, unsupported variants such as
 * compressed data), KILN_ERR_TRUNCATED (the file ends early), -errno. */
int perfdata_read_fd(int fd, const struct perfdata_sink *sink, struct perfdata_stats *st,
		     struct diag *d);

/* The same on a perf.data image in memory (len bytes, borrowed). */
int perfdata_read_mem(const void *buf, size_t len, const struct perfdata_sink *sink,
		      struct perfdata_stats *st, struct diag *d);

#endif
