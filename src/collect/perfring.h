/* perfring: one perf_event_open ring buffer, read record by record.
 * Invariant: a record handed out is contiguous (wrapped records are copied
 * into a scratch buffer) and stays valid until perfring_consume(); the
 * kernel's data_head is read with acquire and data_tail written with
 * release ordering, as perf_event_open(2) requires. */
#ifndef KILN_COLLECT_PERFRING_H
#define KILN_COLLECT_PERFRING_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>

struct perfring {
	int fd;
	struct perf_event_mmap_page *meta;
	unsigned char *data;
	size_t size;      /* data area, a power of two */
	size_t mapped;    /* bytes mapped, meta page included */
	uint64_t head;    /* snapshot of data_head */
	uint64_t tail;    /* our read position */
	unsigned char *scratch;
	size_t scratch_cap;
};

/* Maps pages (a power of two) data pages of fd's ring. Returns 0 or -errno. */
int perfring_map(struct perfring *r, int fd, size_t pages);
void perfring_unmap(struct perfring *r);
/* Returns the next record, or NULL when the ring is empty for now. */
const struct perf_event_header *perfring_next(struct perfring *r);
/* Releases every record read so far back to the kernel. */
void perfring_consume(struct perfring *r);
/* Releases the records up to position tail (a value of r->tail taken
 * after the last record that is no longer in use). */
void perfring_consume_to(struct perfring *r, uint64_t tail);

/* perf_event_open(2); returns an fd or -errno. */
int perfevent_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd, unsigned long flags);

#endif
