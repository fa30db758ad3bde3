/* leak-common: helpers shared by the tests/heap/leak-*.c programs (known
 * leak verdicts for the tracker's exit scan). Invariant: no stdio, so the
 * only allocations are the program's own. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
/* keeps a value alive in a register across the asm (no store) */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Overwrite dead stack below the caller, so stale copies of pointers left
 * by earlier calls are not found by the scan (memcheck would see them too).
 * Volatile stores one by one: a memset of a local array that is never read
 * again is dead code to the compiler, which then dropped the call. */
static NOINLINE void scrub_stack(void)
{
	volatile char pad[16384];
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = 0;
}

/* Clear the callee-saved registers, which may still hold a pointer. */
static inline void scrub_regs(void)
{
#if defined(__x86_64__)
	__asm__ volatile("xor %%ebx, %%ebx\n\txor %%r12d, %%r12d\n\txor %%r13d, %%r13d\n\t"
			 "xor %%r14d, %%r14d\n\txor %%r15d, %%r15d"
			 ::: "rbx", "r12", "r13", "r14", "r15");
#endif
}

static void done(void)
{
	static const char msg[] = "done\n";
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
}
