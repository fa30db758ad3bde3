/* interpose-floor: the cheapest allocator hook there can be, for
 * bench/agent-heap to compare with: malloc and free preloaded, each a tail
 * call to glibc's own entry point, with no state and no work. What the
 * agent costs above this is the agent's; this much any LD_PRELOAD hook
 * costs. Invariant: the host sees exactly glibc's malloc and free. */
#include <stddef.h>

void *__libc_malloc(size_t size);
void __libc_free(void *p);

__attribute__((visibility("default"))) void *malloc(size_t size)
{
	return __libc_malloc(size);
}

__attribute__((visibility("default"))) void free(void *p)
{
	__libc_free(p);
}
