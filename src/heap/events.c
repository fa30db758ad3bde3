/* events: what the hooks record. Each function runs with the guard set, so
 * allocations made by the unwinder, zlib or the loader underneath are not
 * tracked as the host's. Invariant: the liveset is updated before the real
 * free (so a pointer reused at once by another thread is not confused) and
 * after the real allocation. */
#include <signal.h>

#include "base/heaptrace.h"
#include "heap/heap.h"

static void put_alloc(int type, void *p, uint64_t size, uint32_t stack)
{
	uint8_t *w = buffer_begin();
	if (!w)
		return;
	*w++ = (uint8_t)type;
	w = put_v(w, kh_now_us());
	w = put_v(w, (uintptr_t)p);
	w = put_v(w, size);
	w = put_v(w, stack);
	w = put_v(w, kh_tid());
	buffer_end(w);
}

static void put_free(int type, void *p, uint64_t len)
{
	uint8_t *w = buffer_begin();
	if (!w)
		return;
	*w++ = (uint8_t)type;
	w = put_v(w, kh_now_us());
	w = put_v(w, (uintptr_t)p);
	if (type == HT_MUNMAP)
		w = put_v(w, len);
	w = put_v(w, kh_tid());
	buffer_end(w);
}

void ev_alloc(void *p, size_t size)
{
	kh_self.guard++;
	uint32_t st = stacks_capture();
	if (liveset_insert((uintptr_t)p, size, st, 0) < 0)
		kh_fail("out of memory for the live set", 0);
	if (kh_agent) {
		kh_agent_sample(st, size); /* the agent's sink instead of the trace */
	} else {
		put_alloc(HT_ALLOC, p, size, st);
		writer_start_flusher();
	}
	kh_self.guard--;
}

void ev_silent_alloc(void *p, size_t size)
{
	liveset_insert((uintptr_t)p, size, 0, LIVE_SILENT);
}

int ev_free_begin(void *p, int mode, struct live *old)
{
	if (kh_sample_bytes && !liveset_maybe((uintptr_t)p))
		return 0;
	kh_self.guard++;
	int r = liveset_remove((uintptr_t)p, &old->flags, &old->size, &old->stack);
	if (mode != 1)
		old->flags |= LIVE_SILENT; /* inside the tracker: no event, no lock of the buffer */
	if (r <= 0 && mode == 1 && !kh_sample_bytes) {
		/* a bad free: record it and write everything now, since the
		 * real free may well abort the process */
		uint32_t st = stacks_capture();
		uint8_t *w = buffer_begin();
		if (w) {
			*w++ = HT_BAD_FREE;
			w = put_v(w, kh_now_us());
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
	if ((old->flags & LIVE_SILENT) || kh_agent)
		return; /* the agent reads frees from the liveset */
	kh_self.guard++;
	put_free(HT_FREE, p, 0);
	kh_self.guard--;
}

void ev_free_undo(void *p, const struct live *old)
{
	liveset_insert((uintptr_t)p, old->size, old->stack, old->flags);
}

void ev_mmap(void *p, size_t len)
{
	kh_self.guard++;
	uint32_t st = stacks_capture();
	put_alloc(HT_MMAP, p, len, st);
	writer_start_flusher();
	kh_self.guard--;
}

void ev_munmap(void *p, size_t len)
{
	kh_self.guard++;
	put_free(HT_MUNMAP, p, len);
	kh_self.guard--;
}
