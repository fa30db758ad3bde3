/* measure: run one command and report its wall time and peak memory.
 * Usage: measure [-i STDIN_FILE] [-o STDOUT_FILE] [-e STDERR_FILE] -- CMD [ARG...]
 * Prints one line to its own stdout: "WALL_SECONDS MAXRSS_KB EXIT_CODE"
 * (EXIT_CODE is 128+N when the command died from signal N). The figures
 * come from clock_gettime(CLOCK_MONOTONIC) around fork/exec and wait4(). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: measure [-i FILE] [-o FILE] [-e FILE] -- CMD [ARG...]\n");
	exit(2);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In the child: make FD read or write PATH; exits the child on failure. */
static void redirect(int fd, const char *path, int flags)
{
	if (!path)
		return;
	int f = open(path, flags, 0644);
	if (f < 0) {
		fprintf(stderr, "measure: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	if (dup2(f, fd) < 0) {
		fprintf(stderr, "measure: dup2: %s\n", strerror(errno));
		_exit(127);
	}
	close(f);
}

int main(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *err = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+i:o:e:")) != -1) {
		switch (opt) {
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'e': err = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	char **cmd = argv + optind;

	fflush(stdout);
	double start = now();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "measure: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		redirect(STDIN_FILENO, in, O_RDONLY);
		redirect(STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC);
		redirect(STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC);
		execvp(cmd[0], cmd);
		fprintf(stderr, "measure: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}

	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
			return 1;
		}
	}
	double wall = now() - start;

	int code = WIFEXITED(status) ? WEXITSTATUS(status)
		 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
	printf("%.3f %ld %d\n", wall, ru.ru_maxrss, code);
	return 0;
}
