/* leak-mmap: a 56-byte block whose only pointer is in an anonymous page the
 * program mmap'd itself: still reachable, 56 bytes in 1 block. */
#include <sys/mman.h>

#include "leak-common.h"

static NOINLINE void make(void)
{
	void **page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		_exit(2);
	page[100] = malloc(56);
	/* only the page's address is kept, xor'ed so it is not a pointer */
	extern unsigned long page_key;
	page_key = (unsigned long)page ^ 0x5a5a5a5a5a5a5a5aul;
}
unsigned long page_key;

int main(void)
{
	make();
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
