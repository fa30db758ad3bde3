/* events: what the hooks record, as records of the calling thread's stream
 * (src/base/heaptrace.h): an event first moves the stream's time on when
 * the ticker's clock has moved (HT_TIME), an allocation is its size and
 * stack, and a free is a back-reference to one of the stream's own recent
 * allocations, else the freed block's size and stack. Each
 * function runs with the guard set, so allocations made by the unwinder,
 * the compressor or the loader underneath are not tracked as the host's.
 * Invariant: the liveset is updated before the real free (so a pointer
 * reused at once by another thread is not confused) and after the real
 * allocation; a block's allocation number is the count of ALLOC records
 * its stream had written before it. */
#include <signal.h>

#include "base/heaptrace.h"
#include "heap/heap.h"

static inline uint8_t *put_time(uint8_t *w)
{
	uint64_t now = kh_event_us();
	if (now > kh_self.time_us) {
		*w++ = HEAPTRACE_HEAD(HT_TIME);
		w = put_v(w, now - kh_self.time_us);
		kh_self.time_us = now;
	}
	return w;
}

/* The FREE of old, a block this thread frees. */
static inline uint8_t *put_free(uint8_t *w, const struct live *old)
{
	uint32_t back = kh_self.nallocs - old->seq;
	if (old->owner && old->owner == kh_self.serial && back - 1 < HEAPTRACE_BACKREFS)
		return put_v(w, (uint64_t)back << 2 | HT_TAG_FREE_BACK);
	w = put_v(w, old->size << 2 | HT_TAG_FREE);
	return put_v(w, old->stack);
}

void ev_alloc(void *p, size_t size)
{
	kh_self.guard++;
	uint32_t st = stacks_capture();
	if (kh_agent) {
		/* the agent's sink instead of the trace; frees read the liveset */
		struct live v = {.size = size, .stack = st}, old;
		if (liveset_insert((uintptr_t)p, &v, &old) < 0)
			kh_fail("out of memory for the live set", 0);
		kh_agent_sample(st, size);
		kh_self.guard--;
		return;
	}
	uint8_t *w = buffer_begin();
	if (w) {
		/* buffer_begin registers the thread: its serial is known now */
		struct live v = {.size = size, .stack = st, .owner = kh_self.serial, .seq = kh_self.nallocs};
		struct live old;
		int r = liveset_insert((uintptr_t)p, &v, &old);
		if (r > 0 && !(old.flags & LIVE_SILENT))
			w = put_free(w, &old); /* its free went by unseen */
		w = put_time(w);
		w = put_v(w, (uint64_t)size << 2 | HT_TAG_ALLOC);
		w = put_v(w, st);
		buffer_end(w);
		if (kh_self.serial)
			kh_self.nallocs++;
		if (r < 0)
			kh_fail("out of memory for the live set", 0);
	}
	writer_start_flusher();
	kh_self.guard--;
}

void ev_silent_alloc(void *p, size_t size)
{
	struct live v = {.size = size, .flags = LIVE_SILENT}, old;
	liveset_insert((uintptr_t)p, &v, &old);
}

int ev_free_begin(void *p, int mode, struct live *old)
{
	if (kh_sample_bytes && !liveset_maybe((uintptr_t)p))
		return 0;
	kh_self.guard++;
	int r = liveset_remove((uintptr_t)p, old);
	if (mode != 1)
		old->flags |= LIVE_SILENT; /* inside the tracker: no event, no lock of the buffer */
	if (r <= 0 && mode == 1 && !kh_sample_bytes) {
		/* a bad free: record it and write everything now, since the
		 * real free may well abort the process */
		uint32_t st = stacks_capture();
		uint8_t *w = buffer_begin();
		if (w) {
			w = put_time(w);
			*w++ = HEAPTRACE_HEAD(HT_BAD_FREE);
			w = put_v(w, (uintptr_t)p);
			w = put_v(w, st);
			w = put_v(w, r < 0 ? HT_BAD_DOUBLE_FREE : HT_BAD_UNKNOWN_POINTER);
			buffer_end(w);
		}
		buffer_capture_self();
		writer_drain();
	}
	kh_self.guard--;
	return r > 0;
}

void ev_free_commit(void *p, const struct live *old)
{
	(void)p;
	if ((old->flags & LIVE_SILENT) || kh_agent)
		return; /* the agent reads frees from the liveset */
	kh_self.guard++;
	uint8_t *w = buffer_begin();
	if (w) {
		w = put_time(w);
		buffer_end(put_free(w, old));
	}
	kh_self.guard--;
}

void ev_free_undo(void *p, const struct live *old)
{
	struct live prev;
	liveset_insert((uintptr_t)p, old, &prev);
}

void ev_mmap(void *p, size_t len)
{
	kh_self.guard++;
	uint32_t st = stacks_capture();
	uint8_t *w = buffer_begin();
	if (w) {
		w = put_time(w);
		*w++ = HEAPTRACE_HEAD(HT_MMAP);
		w = put_v(w, (uintptr_t)p);
		w = put_v(w, len);
		w = put_v(w, st);
		buffer_end(w);
	}
	writer_start_flusher();
	kh_self.guard--;
}

void ev_munmap(void *p, size_t len)
{
	kh_self.guard++;
	uint8_t *w = buffer_begin();
	if (w) {
		w = put_time(w);
		*w++ = HEAPTRACE_HEAD(HT_MUNMAP);
		w = put_v(w, (uintptr_t)p);
		w = put_v(w, len);
		buffer_end(w);
	}
	kh_self.guard--;
}
