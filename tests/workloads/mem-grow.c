/* mem-grow: a workload whose memory grows by a known amount: it mallocs and
 * touches STEP_MIB (4) MiB every STEP_MS (100) ms for STEPS (20) steps,
 * holds the peak for HOLD_MS (1000) ms, frees every other block (half),
 * then sleeps REST_MS (500) ms and exits.
 * Invariant: the amounts are exact (each block is its own mmap'd chunk,
 * every page written), so the peak is STEPS * STEP_MIB MiB over the
 * baseline and the end is half of that; only the timing varies.
 * usage: mem-grow [STEPS [STEP_MIB [STEP_MS [HOLD_MS [REST_MS]]]]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static long arg(int argc, char **argv, int i, long def)
{
	return argc > i ? strtol(argv[i], NULL, 10) : def;
}

int main(int argc, char **argv)
{
	long steps = arg(argc, argv, 1, 20), mib = arg(argc, argv, 2, 4);
	long step_ms = arg(argc, argv, 3, 100), hold_ms = arg(argc, argv, 4, 1000);
	long rest_ms = arg(argc, argv, 5, 500);
	/* a small allocation: it comes from brk, so the process has a [heap] */
	char **blocks = calloc((size_t)steps, sizeof(*blocks));
	if (!blocks)
		return 1;
	for (long i = 0; i < steps; i++) {
		blocks[i] = malloc((size_t)mib << 20);
		if (!blocks[i])
			return 1;
		memset(blocks[i], (int)(i + 1), (size_t)mib << 20);
		sleep_ms(step_ms);
	}
	sleep_ms(hold_ms);
	for (long i = 0; i < steps; i += 2) {
		free(blocks[i]);
		blocks[i] = NULL;
	}
	sleep_ms(rest_ms);
	long sum = 0;
	for (long i = 1; i < steps; i += 2)
		sum += blocks[i][0];
	fprintf(stderr, "mem-grow: peak %ld MiB allocated, %ld MiB at the end (check %ld)\n", steps * mib,
		(steps - steps / 2) * mib, sum);
	return 0;
}
