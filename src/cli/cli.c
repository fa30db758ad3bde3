/* cli: shared command-line plumbing: messages, safe outputs, progress. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/strbuf.h"
#include "base/xalloc.h"

bool cli_quiet;

int cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("kiln: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int cli_usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kiln %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'kiln %s --help'.\n", cmd->name);
	return EXIT_USAGE;
}

void cli_warn(const char *fmt, ...)
{
	if (cli_quiet)
		return;
	va_list ap;
	fputs("kiln: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse_seconds(const char *s, double min, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno)
		return -1;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		v *= 60;
	else if (!strcmp(end, "h"))
		v *= 3600;
	else if (*end && strcmp(end, "s"))
		return -1;
	if (!(v >= min) || v > 1e7)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_freq(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < 1 || v > 10000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

bool cli_wants_help(const struct command *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(cmd->usage, stdout);
			return true;
		}
	}
	return false;
}

int outfile_open(struct outfile *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	if (!path || !strcmp(path, "-")) {
		o->fp = stdout;
		return 0;
	}
	/* Devices, pipes and other special files are written in place: only a
	 * regular file (or a new one) is replaced by renaming a temporary. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		o->fp = fopen(path, "w");
		if (!o->fp)
			return cli_error("cannot open '%s': %s", path, strerror(errno));
		o->direct = true;
		o->path = xstrdup(path);
		return 0;
	}
	size_t n = strlen(path) + 32;
	o->tmp = xmalloc(n);
	snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		free(o->tmp);
		o->tmp = NULL;
		return cli_error("cannot create '%s': %s", path, strerror(e));
	}
	o->fp = fdopen(fd, "w");
	if (!o->fp) {
		int e = errno;
		close(fd);
		unlink(o->tmp);
		return cli_error("cannot open '%s': %s", path, strerror(e));
	}
	o->path = xstrdup(path);
	return 0;
}

int outfile_close(struct outfile *o, bool ok)
{
	int rc = EXIT_OK;
	if (!o->fp)
		return ok ? EXIT_OK : EXIT_FAIL;
	const char *name = o->path ? o->path : "standard output";
	if (fflush(o->fp) != 0 || ferror(o->fp)) {
		if (ok)
			rc = cli_error("write error on %s: %s", name, strerror(errno ? errno : EIO));
		ok = false;
	}
	if (o->direct) {
		if (fclose(o->fp) != 0 && ok) {
			rc = cli_error("write error on %s: %s", name, strerror(errno));
			ok = false;
		}
	} else if (o->path) {
		if (ok && fsync(fileno(o->fp)) != 0 && errno != EINVAL && errno != EROFS) {
			rc = cli_error("write error on %s: %s", name, strerror(errno));
			ok = false;
		}
		if (fclose(o->fp) != 0 && ok) {
			rc = cli_error("write error on %s: %s", name, strerror(errno));
			ok = false;
		}
		if (ok && rename(o->tmp, o->path) != 0) {
			rc = cli_error("cannot rename to '%s': %s", o->path, strerror(errno));
			ok = false;
		}
		if (!ok)
			unlink(o->tmp);
	} else if (fclose(o->fp) != 0 && ok) {
		rc = cli_error("write error on %s: %s", name, strerror(errno));
		ok = false;
	}
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	if (!ok && rc == EXIT_OK)
		rc = EXIT_FAIL;
	return rc;
}

int cli_open_input(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		cli_error("cannot open '%s': %s", path, strerror(errno));
	return fd;
}

const char *cli_input_name(const char *path)
{
	return (!path || !strcmp(path, "-")) ? "standard input" : path;
}

char *cli_sibling_path(const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/%s", exe, name);
	return sb.buf;
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

volatile sig_atomic_t cli_stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	cli_stop_requested = 1;
}

static void on_child_signal(int sig)
{
	(void)sig;
}

void cli_signals_install(struct cli_signals *s)
{
	struct sigaction stop = {0}, child = {0};
	stop.sa_handler = on_stop_signal;
	sigemptyset(&stop.sa_mask);
	sigaction(SIGINT, &stop, &s->old_int);
	sigaction(SIGTERM, &stop, &s->old_term);
	sigaction(SIGHUP, &stop, &s->old_hup);
	child.sa_handler = on_child_signal;
	sigemptyset(&child.sa_mask);
	sigaction(SIGCHLD, &child, &s->old_chld);
}

void cli_signals_restore(const struct cli_signals *s)
{
	sigaction(SIGINT, &s->old_int, NULL);
	sigaction(SIGTERM, &s->old_term, NULL);
	sigaction(SIGHUP, &s->old_hup, NULL);
	sigaction(SIGCHLD, &s->old_chld, NULL);
}

void progress_init(struct progress *p, const char *what)
{
	p->enabled = !cli_quiet && isatty(2);
	p->last = cli_now();
	p->what = what;
}

void progress_update(struct progress *p, unsigned long long bytes, unsigned long long total)
{
	if (!p->enabled)
		return;
	double t = cli_now();
	if (t - p->last < 0.25)
		return;
	p->last = t;
	if (total)
		fprintf(stderr, "\r%s: %llu MB of %llu MB (%.0f%%)", p->what, bytes >> 20, total >> 20,
			100.0 * (double)bytes / (double)total);
	else
		fprintf(stderr, "\r%s: %llu MB", p->what, bytes >> 20);
}

void progress_done(struct progress *p)
{
	if (p->enabled)
		fputs("\r\033[K", stderr);
}
