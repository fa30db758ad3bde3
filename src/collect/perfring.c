/* perfring: mmap'd perf_event ring buffers (see perfring.h). */
#include "collect/perfring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/xalloc.h"

int perfevent_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd, unsigned long flags)
{
	long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
	return fd < 0 ? -errno : (int)fd;
}

int perfring_map(struct perfring *r, int fd, size_t pages)
{
	memset(r, 0, sizeof(*r));
	long page = sysconf(_SC_PAGESIZE);
	size_t len = ((size_t)pages + 1) * (size_t)page;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	r->fd = fd;
	r->meta = m;
	r->data = (unsigned char *)m + page;
	r->size = pages * (size_t)page;
	r->mapped = len;
	r->tail = r->meta->data_tail;
	r->head = r->tail;
	return 0;
}

void perfring_unmap(struct perfring *r)
{
	if (r->meta)
		munmap(r->meta, r->mapped);
	free(r->scratch);
	memset(r, 0, sizeof(*r));
}

const struct perf_event_header *perfring_next(struct perfring *r)
{
	if (r->tail == r->head) {
		r->head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
		if (r->tail == r->head)
			return NULL;
	}
	size_t mask = r->size - 1;
	size_t off = (size_t)(r->tail & mask);
	struct perf_event_header h;
	if (off + sizeof(h) <= r->size) {
		memcpy(&h, r->data + off, sizeof(h));
	} else {
		size_t first = r->size - off;
		memcpy(&h, r->data + off, first);
		memcpy((unsigned char *)&h + first, r->data, sizeof(h) - first);
	}
	if (h.size < sizeof(h) || h.size > r->head - r->tail) {
		/* a corrupt ring: drop everything we have */
		r->tail = r->head;
		return NULL;
	}
	const struct perf_event_header *rec;
	if (off + h.size <= r->size) {
		rec = (const void *)(r->data + off);
	} else {
		r->scratch = xgrow(r->scratch, 1, h.size, &r->scratch_cap);
		size_t first = r->size - off;
		memcpy(r->scratch, r->data + off, first);
		memcpy(r->scratch + first, r->data, h.size - first);
		rec = (const void *)r->scratch;
	}
	r->tail += h.size;
	return rec;
}

void perfring_consume(struct perfring *r)
{
	perfring_consume_to(r, r->tail);
}

void perfring_consume_to(struct perfring *r, uint64_t tail)
{
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}
