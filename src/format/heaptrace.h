/* heaptrace (reader): streams a kiln heap trace (src/base/heaptrace.h) into
 * one callback per record type.
 * Invariant: memory is bounded by one chunk (compressed and inflated) and
 * a small ring per thread stream; a trace cut short or with a damaged
 * chunk is read up to its last good chunk and flagged in the stats, never
 * a crash; a malformed record inside a chunk whose checksum holds is
 * KILN_ERR_FORMAT with a diag message. */
#ifndef KILN_FORMAT_HEAPTRACE_H
#define KILN_FORMAT_HEAPTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/heaptrace.h"

/* The caps a chunk header may claim; larger is KILN_ERR_FORMAT. */
#define HEAPTRACE_MAX_CHUNK ((uint32_t)256 << 20)

/* One callback per record type; any may be NULL (the record is skipped).
 * Strings are not NUL-terminated and live only during the call. A non-zero
 * return stops reading and is returned by the reader. Events come with
 * their stream's time and thread (tid 0 when unknown); a free gives its
 * block's size and stack and says whether it was a temporary allocation
 * (freed with no other allocation in between on its thread). */
struct heaptrace_sink {
	void *ctx;
	int (*header)(void *ctx, const struct heaptrace_header *h);
	int (*module)(void *ctx, uint64_t id, uint64_t start, uint64_t end, uint64_t file_offset,
		      const char *path, size_t path_len, const unsigned char *build_id, size_t build_id_len);
	int (*stack)(void *ctx, uint64_t id, uint64_t parent_id, uint64_t ip);
	int (*alloc)(void *ctx, uint64_t time, uint64_t size, uint64_t stack_id, uint64_t tid);
	int (*free)(void *ctx, uint64_t time, uint64_t size, uint64_t stack_id, uint64_t tid, bool temporary);
	int (*thread)(void *ctx, uint64_t tid, const char *name, size_t name_len);
	int (*rss)(void *ctx, uint64_t time, uint64_t rss_bytes);
	int (*bad_free)(void *ctx, uint64_t time, uint64_t ptr, uint64_t stack_id, uint64_t kind);
	int (*leak)(void *ctx, uint64_t ptr, uint64_t size, uint64_t stack_id, uint64_t kind);
	int (*end)(void *ctx, uint64_t time, uint64_t how, uint64_t status);
	int (*mmap)(void *ctx, uint64_t time, uint64_t addr, uint64_t length, uint64_t stack_id, uint64_t tid);
	int (*munmap)(void *ctx, uint64_t time, uint64_t addr, uint64_t length, uint64_t tid);
};

struct heaptrace_stats {
	uint64_t bytes;      /* bytes of the trace consumed (header and good chunks) */
	uint64_t chunks;     /* good chunks */
	uint64_t records;    /* records delivered */
	uint64_t raw_bytes;  /* inflated bytes */
	bool ends_early;     /* the trace stops inside a chunk, or at a damaged one */
	uint64_t ends_at;    /* byte offset of the chunk that was not read */
	char why[128];       /* what was wrong with it ("short chunk", "bad crc32", ...) */
};

/* Returns 1 when data starts like a heap trace (the magic), else 0. */
int heaptrace_sniff(const void *data, size_t len);

/* Reads the trace in fd from its current position to the end. st (may be
 * NULL) gets the counts. Returns 0 (also for a trace that ends early: see
 * st->ends_early), -errno on a read error, KILN_ERR_FORMAT for a bad header,
 * a chunk claiming more than HEAPTRACE_MAX_CHUNK, or a bad record (d says
 * which and where), KILN_ERR_EMPTY for an empty file, KILN_ERR_TRUNCATED
 * for a file shorter than its header, or what a callback returned. */
int heaptrace_read_fd(int fd, const struct heaptrace_sink *sink, struct heaptrace_stats *st,
		      struct diag *d);
/* The same over a buffer (for tests and fuzzing). */
int heaptrace_read_mem(const void *data, size_t len, const struct heaptrace_sink *sink,
		       struct heaptrace_stats *st, struct diag *d);

#endif
