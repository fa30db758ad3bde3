/* heap-fork: fork, then the child execs this program again ("exec" mode).
 * parent_work: 5 x 40 bytes; child_work (after fork): 10 x 50 bytes;
 * exec_work (the new image): 3 x 30 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
static void *volatile keep[16];

NOINLINE static void work(int n, size_t size)
{
	for (int i = 0; i < n; i++)
		keep[i] = malloc(size);
	for (int i = 0; i < n; i++)
		free(keep[i]);
}

NOINLINE static void parent_work(void) { work(5, 40); keep[15] = NULL; }
NOINLINE static void child_work(void) { work(10, 50); keep[15] = NULL; }
NOINLINE static void exec_work(void) { work(3, 30); keep[15] = NULL; }

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		exec_work();
		printf("exec done\n");
		return 0;
	}
	parent_work();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		child_work();
		char *args[] = {argv[0], (char *)"exec", NULL};
		execv("/proc/self/exe", args);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("parent done, child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
