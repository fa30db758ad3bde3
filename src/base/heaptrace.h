/* heaptrace: the on-disk format of a kiln heap trace, shared by its writer
 * (the preload library, src/heap/) and its reader (src/format/heaptrace.c).
 * A trace is a fixed header and then chunks; each chunk is one zlib stream
 * of whole records, so a trace cut short by a crash, _exit or SIGKILL is
 * readable up to its last complete chunk.
 * Invariant: this header only declares the format (constants and layout);
 * it has no code, so the preload library can include it without pulling
 * in anything that allocates. All integers are little-endian. */
#ifndef KILN_BASE_HEAPTRACE_H
#define KILN_BASE_HEAPTRACE_H

#include <stdint.h>

#define HEAPTRACE_MAGIC "KILNHEAP" /* 8 bytes, no NUL */
#define HEAPTRACE_VERSION 1
#define HEAPTRACE_CHUNK_MAGIC 0x3143484bu /* "KHC1" */

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

/* Each chunk: this header, then compressed_len bytes of zlib data
 * (compress2() format) that inflate to raw_len bytes of records. */
struct heaptrace_chunk {
	uint32_t magic;          /* HEAPTRACE_CHUNK_MAGIC */
	uint32_t compressed_len;
	uint32_t raw_len;
	uint32_t crc32;          /* zlib crc32() of the raw records */
};

/* Records: a type byte, then fields. "v" is an unsigned LEB128 varint,
 * "s" a string as v(length) and that many bytes (no NUL). Times are
 * microseconds since start_monotonic_ns. Records of different threads may
 * interleave out of time order by up to one flush interval (~100 ms);
 * readers that need exact order sort by time. */
enum heaptrace_record {
	HT_MODULE = 1,    /* v id, v start, v end, v file_offset, s path, s build_id (raw bytes, may be empty):
			     an executable mapping, at start and after each dlopen */
	HT_STACK = 2,     /* v id, v parent_id (0: root), v ip: one node of the stack trie; a stack id
			     names the whole path from its node up to the root (leaf first) */
	HT_ALLOC = 3,     /* v time, v ptr, v size, v stack_id, v tid */
	HT_FREE = 4,      /* v time, v ptr, v tid (realloc is a FREE then an ALLOC) */
	HT_THREAD = 5,    /* v tid, s name */
	HT_RSS = 6,       /* v time, v rss_bytes: sampled about every 100 ms */
	HT_BAD_FREE = 7,  /* v time, v ptr, v stack_id, v kind (HT_BAD_*) */
	HT_LEAK = 8,      /* v ptr, v size, v stack_id, v kind (HT_LEAK_*): the exit-time scan */
	HT_END = 9,       /* v time, v how (HT_END_*), v status */
	HT_MMAP = 10,     /* v time, v addr, v length, v stack_id, v tid (with HEAPTRACE_F_MMAP) */
	HT_MUNMAP = 11,   /* v time, v addr, v length, v tid */
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
