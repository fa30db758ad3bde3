/* libkilnwork: the shared-library half of the record-work workload; its
 * lib_work burns the same CPU per call as the main program's functions,
 * so profiles can check a share that lives in a .so. Built -O2 without
 * frame pointers, like distribution libraries. */
#include <stdint.h>

volatile uint64_t kilnwork_sink;

__attribute__((noinline)) void lib_work(int n)
{
	uint64_t x = kilnwork_sink;
	for (int i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	kilnwork_sink = x;
}
