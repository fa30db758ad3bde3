/* guard: the per-thread state of the tracker (reentrancy guard, buffer,
 * sampling counter), kept in initial-exec TLS so reading it never calls
 * __tls_get_addr (which may allocate). Invariant: kh_self.guard > 0 exactly
 * while this thread runs tracker code. */
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap/heap.h"

TLS struct kh_thread kh_self;

uint32_t kh_tid(void)
{
	if (!kh_self.tid)
		kh_self.tid = (uint32_t)syscall(SYS_gettid);
	return kh_self.tid;
}

void kh_yield(void)
{
	sched_yield();
}
