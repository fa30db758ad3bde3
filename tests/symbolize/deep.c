/* deep: a test program for tests/unit/test-symbolize.c, compiled at test
 * time with -O2 -g -fomit-frame-pointer. It recurses argv[1] levels deep
 * (default 50) and stops itself with SIGSTOP from an always_inline helper,
 * so the test can unwind and symbolize a known stack. The MARK comments
 * name lines the test looks up. */
#include <signal.h>
#include <stdlib.h>

volatile int sink;

static inline __attribute__((always_inline)) void stop_here(int n)
{
	sink += n;
	raise(SIGSTOP); /* MARK:stop */
	sink -= n;
}

__attribute__((noinline, noclone)) int recurse(int n)
{
	if (n == 0) {
		stop_here(n); /* MARK:inline-call */
		return 0;
	}
	int r = recurse(n - 1); /* MARK:recurse */
	sink += r;
	return r + 1;
}

int main(int argc, char **argv)
{
	int depth = argc > 1 ? atoi(argv[1]) : 50;
	return recurse(depth) == depth ? 0 : 1; /* MARK:main */
}
