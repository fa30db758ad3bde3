/* heaptrace: the on-disk format of a kiln heap trace, shared by its writer
 * (the preload library, src/heap/) and its reader (src/format/heaptrace.c).
 * A trace is a fixed header and then chunks; each chunk is one raw deflate
 * stream of whole records, so a trace cut short by a crash, _exit or
 * SIGKILL is readable up to its last complete chunk.
 * Invariant: this header only declares the format (constants and layout);
 * it has no code, so the preload library can include it without pulling
 * in anything that allocates. All integers are little-endian. */
#ifndef KILN_BASE_HEAPTRACE_H
#define KILN_BASE_HEAPTRACE_H

#include <stdint.h>

#define HEAPTRACE_MAGIC "KILNHEAP" /* 8 bytes, no NUL */
#define HEAPTRACE_VERSION 2       /* 1: zlib chunks, a pointer and a tid in every event */
#define HEAPTRACE_CHUNK_MAGIC 0x3243484bu /* "KHC2" */

/* The file header, written once at the start. */
struct heaptrace_header {
	char magic[8];              /* HEAPTRACE_MAGIC */
	uint32_t version;           /* HEAPTRACE_VERSION */
	uint32_t header_size;       /* sizeof(struct heaptrace_header) */
	uint64_t start_realtime_ns; /* CLOCK_REALTIME at start */
	uint64_t start_monotonic_ns; /* CLOCK_MONOTONIC at start; record times are relative to it */
	uint32_t pid, ppid;
	uint32_t sample_bytes;      /* 0: every allocation; else one sample per this many bytes on average */
	uint32_t flags;             /* HEAPTRACE_F_* */
	uint32_t page_size;
	uint32_t reserved[5];
};

enum heaptrace_flags {
	HEAPTRACE_F_MMAP = 1 << 0,     /* anonymous mmap/munmap are traced too */
	HEAPTRACE_F_FOLLOWED = 1 << 1, /* this process was followed from a parent */
};

/* Each chunk: this header, then compressed_len bytes of raw deflate data
 * (RFC 1951, no zlib or gzip wrapper) that inflate to raw_len bytes of
 * records whose CRC-32 (zlib's crc32()) is crc32. */
struct heaptrace_chunk {
	uint32_t magic;          /* HEAPTRACE_CHUNK_MAGIC */
	uint32_t compressed_len;
	uint32_t raw_len;
	uint32_t crc32;
};

/* Records. Every record starts with a head, an unsigned LEB128 varint h;
 * h & 3 says what it is:
 *   0  ALLOC of h >> 2 bytes; then v stack_id
 *   1  FREE of the block allocated h >> 2 allocations ago (1: the latest)
 *      in the current stream; a free with h >> 2 == 1 is of a temporary
 *      allocation (freed with no other allocation in between on its
 *      thread)
 *   2  FREE of a block of h >> 2 bytes; then v stack_id (a block another
 *      thread allocated, or more than HEAPTRACE_BACKREFS allocations ago)
 *   3  any other record: its type is h >> 2 (one byte, HEAPTRACE_HEAD(t)),
 *      fields follow
 * Fields: "v" is an unsigned LEB128 varint, "s" a string as v(length) and
 * that many bytes (no NUL). Times are microseconds since
 * start_monotonic_ns.
 *
 * Events (ALLOC, FREE, and the records marked "event" below) belong to the
 * stream named by the last HT_CONTEXT of their chunk, which sets its
 * serial and time; one thread's records are in one stream, in order, and
 * a stream's time only moves forward (HT_TIME). A stream's allocations are
 * counted across chunks for the FREE back-references, so chunks are read
 * in file order. Serial 0 is no stream (a thread's events after its exit):
 * its allocations are not counted and its frees give size and stack.
 * Records of different threads may interleave out of time order by up to
 * one flush interval (~100 ms); readers that need exact order sort by
 * time. A STACK record precedes, in the file, every record that names it. */
#define HEAPTRACE_HEAD(t) ((uint8_t)((t) << 2 | 3))
#define HEAPTRACE_BACKREFS 4096 /* the most allocations a FREE reaches back */

enum heaptrace_tag {
	HT_TAG_ALLOC = 0,
	HT_TAG_FREE_BACK = 1,
	HT_TAG_FREE = 2,
	HT_TAG_RECORD = 3,
};

enum heaptrace_record {
	HT_MODULE = 1,    /* v id, v start, v end, v file_offset, s path, s build_id (raw bytes, may be empty):
			     an executable mapping, at start and after each dlopen */
	HT_STACK = 2,     /* v id, v parent_id (0: root), v ip: one node of the stack trie; a stack id
			     names the whole path from its node up to the root (leaf first); ids count
			     from 1 */
	HT_CONTEXT = 3,   /* v serial, v time: the following events, up to the next HT_CONTEXT or the
			     end of the chunk, are stream serial's, starting at time */
	HT_TIME = 4,      /* event: v delta: the stream's time moves on by delta */
	HT_THREAD = 5,    /* v serial, v tid, s name: stream serial is thread tid's (first in its
			     stream; again at its exit if the name changed) */
	HT_RSS = 6,       /* v time, v rss_bytes: sampled about every 100 ms */
	HT_BAD_FREE = 7,  /* event: v ptr, v stack_id, v kind (HT_BAD_*) */
	HT_LEAK = 8,      /* v ptr, v size, v stack_id, v kind (HT_LEAK_*): the exit-time scan */
	HT_END = 9,       /* v time, v how (HT_END_*), v status */
	HT_MMAP = 10,     /* event: v addr, v length, v stack_id (with HEAPTRACE_F_MMAP) */
	HT_MUNMAP = 11,   /* event: v addr, v length */
};

enum heaptrace_bad_free {
	HT_BAD_DOUBLE_FREE = 1,
	HT_BAD_UNKNOWN_POINTER = 2,
};

/* memcheck's leak kinds */
enum heaptrace_leak_kind {
	HT_LEAK_REACHABLE = 0,  /* still reachable: a pointer to its start is in a root or a reachable block */
	HT_LEAK_POSSIBLY = 1,   /* possibly lost: only interior pointers reach it */
	HT_LEAK_INDIRECTLY = 2, /* indirectly lost: reachable only from definitely lost blocks */
	HT_LEAK_DEFINITELY = 3, /* definitely lost: no pointer reaches it */
};

enum heaptrace_end {
	HT_END_EXIT = 1,    /* exit() or return from main; status is the exit status */
	HT_END_EXEC = 2,    /* the process called exec; a new trace follows */
	HT_END_SIGNAL = 3,  /* a fatal signal the library saw (abort); status is the signal */
};

#endif
