/* record-work: workloads with known CPU profiles for kiln record's
 * accuracy tests, built -O2 without frame pointers.
 *   record-work split SECONDS    60% work_a, 30% work_b, 10% lib_work (in
 *                                libkilnwork.so), interleaved 6:3:1
 *   record-work recurse SECONDS  all time in leaf 100 frames below main
 *                                (recurse_100 .. recurse_1)
 *   record-work inline SECONDS   time in hot_inline, inlined into
 *                                inline_caller at a known line
 *   record-work threads SECONDS  thread "worker-a" in spin_a, thread
 *                                "worker-b" in spin_b, equal shares
 *   record-work fork SECONDS     a forked child in child_work, the parent
 *                                in parent_work
 *   record-work offcpu SECONDS   per 20 ms: 5 ms on the CPU in busy_part,
 *                                15 ms blocked in wait_part (nanosleep)
 *   record-work rounds N         N rounds of split's work: a fixed amount of
 *                                work, for measuring a profiler's overhead */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void lib_work(int n);

static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t spin(uint64_t x, int n)
{
	for (int i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

enum { UNIT = 200000 };

NOINLINE void work_a(void) { sink = spin(sink, UNIT); }
NOINLINE void work_b(void) { sink = spin(sink, UNIT); }

static void rounds(long n)
{
	for (long r = 0; r < n; r++) {
		for (int i = 0; i < 6; i++)
			work_a();
		for (int i = 0; i < 3; i++)
			work_b();
		lib_work(UNIT);
	}
}

static void split(double seconds)
{
	double end = now() + seconds;
	do {
		for (int i = 0; i < 6; i++)
			work_a();
		for (int i = 0; i < 3; i++)
			work_b();
		lib_work(UNIT);
	} while (now() < end);
}

/* recurse_N calls recurse_{N-1}; generated names keep every frame distinct
 * and stop the compiler from turning the recursion into a loop. */
NOINLINE void leaf(void) { sink = spin(sink, UNIT); }
#define R(n, m) NOINLINE void recurse_##n(void) { recurse_##m(); __asm__ volatile("" ::: "memory"); }
NOINLINE void recurse_1(void) { leaf(); __asm__ volatile("" ::: "memory"); }
R(2,1) R(3,2) R(4,3) R(5,4) R(6,5) R(7,6) R(8,7) R(9,8) R(10,9)
R(11,10) R(12,11) R(13,12) R(14,13) R(15,14) R(16,15) R(17,16) R(18,17) R(19,18) R(20,19)
R(21,20) R(22,21) R(23,22) R(24,23) R(25,24) R(26,25) R(27,26) R(28,27) R(29,28) R(30,29)
R(31,30) R(32,31) R(33,32) R(34,33) R(35,34) R(36,35) R(37,36) R(38,37) R(39,38) R(40,39)
R(41,40) R(42,41) R(43,42) R(44,43) R(45,44) R(46,45) R(47,46) R(48,47) R(49,48) R(50,49)
R(51,50) R(52,51) R(53,52) R(54,53) R(55,54) R(56,55) R(57,56) R(58,57) R(59,58) R(60,59)
R(61,60) R(62,61) R(63,62) R(64,63) R(65,64) R(66,65) R(67,66) R(68,67) R(69,68) R(70,69)
R(71,70) R(72,71) R(73,72) R(74,73) R(75,74) R(76,75) R(77,76) R(78,77) R(79,78) R(80,79)
R(81,80) R(82,81) R(83,82) R(84,83) R(85,84) R(86,85) R(87,86) R(88,87) R(89,88) R(90,89)
R(91,90) R(92,91) R(93,92) R(94,93) R(95,94) R(96,95) R(97,96) R(98,97) R(99,98) R(100,99)

static void recurse(double seconds)
{
	double end = now() + seconds;
	do
		recurse_100();
	while (now() < end);
}

static inline __attribute__((always_inline)) uint64_t hot_inline(uint64_t x)
{
	for (int i = 0; i < UNIT; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull; /* HOT_INLINE_LINE */
	return x;
}

NOINLINE void inline_caller(void) { sink = hot_inline(sink); }

static void inlined(double seconds)
{
	double end = now() + seconds;
	do
		inline_caller();
	while (now() < end);
}

static double stop_at;

NOINLINE void spin_a(void) { sink = spin(sink, UNIT); }
NOINLINE void spin_b(void) { sink = spin(sink, UNIT); }

static void *thread_a(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-a");
	while (now() < stop_at)
		spin_a();
	return NULL;
}

static void *thread_b(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-b");
	while (now() < stop_at)
		spin_b();
	return NULL;
}

static void threads(double seconds)
{
	stop_at = now() + seconds;
	pthread_t a, b;
	pthread_create(&a, NULL, thread_a, NULL);
	pthread_create(&b, NULL, thread_b, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
}

NOINLINE void child_work(void) { sink = spin(sink, UNIT); }
NOINLINE void parent_work(void) { sink = spin(sink, UNIT); }

static void forked(double seconds)
{
	double end = now() + seconds;
	pid_t pid = fork();
	if (pid == 0) {
		while (now() < end)
			child_work();
		_exit(0);
	}
	while (now() < end)
		parent_work();
	waitpid(pid, NULL, 0);
}

NOINLINE void busy_part(double until)
{
	while (now() < until)
		sink = spin(sink, 1000);
}

NOINLINE void wait_part(void)
{
	struct timespec ts = {0, 15000000};
	nanosleep(&ts, NULL);
}

static void offcpu(double seconds)
{
	double end = now() + seconds;
	do {
		busy_part(now() + 0.005);
		wait_part();
	} while (now() < end);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: record-work split|recurse|inline|threads|fork|offcpu [SECONDS] | rounds N\n");
		return 2;
	}
	double s = argc > 2 ? atof(argv[2]) : 1.0;
	if (!strcmp(argv[1], "split"))
		split(s);
	else if (!strcmp(argv[1], "recurse"))
		recurse(s);
	else if (!strcmp(argv[1], "inline"))
		inlined(s);
	else if (!strcmp(argv[1], "threads"))
		threads(s);
	else if (!strcmp(argv[1], "fork"))
		forked(s);
	else if (!strcmp(argv[1], "offcpu"))
		offcpu(s);
	else if (!strcmp(argv[1], "rounds"))
		rounds(argc > 2 ? atol(argv[2]) : 100);
	else
		return 2;
	return 0;
}
