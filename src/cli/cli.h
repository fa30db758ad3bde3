/* cli: what every command shares: the command table entry, messages,
 * output files that are never left truncated, inputs, and progress.
 * Invariant: src/cli/ is the only code that prints to the user or exits;
 * exit codes are 0 success, 1 failure, 2 usage error. */
#ifndef KILN_CLI_CLI_H
#define KILN_CLI_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#define KILN_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage; /* full help text, printed by --help and kiln help */
};

extern const struct command cmd_collapse;
extern const struct command cmd_flame;
extern const struct command cmd_diff;
extern const struct command cmd_record;
extern const struct command cmd_report;
extern const struct command cmd_heap;
extern const struct command cmd_mem;
extern const struct command cmd_run;
extern const struct command cmd_check;
extern const struct command cmd_html;

/* Prints "kiln: <msg>" to stderr; returns EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "kiln CMD: <msg>" and a hint to run --help; returns EXIT_USAGE. */
int cli_usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints "kiln: warning: <msg>" unless quiet. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A time span on the command line: bare seconds or with a unit ("250ms",
 * "2.5s", "2m", "1h"), at least min and at most 1e7 s. 0, or -1. */
int cli_parse_seconds(const char *s, double min, double *out);
/* A sampling frequency (-F), 1 to 10000 Hz. 0, or -1. */
int cli_parse_freq(const char *s, unsigned *out);
extern bool cli_quiet;

/* Handles -h/--help for a command: prints its usage and returns true. */
bool cli_wants_help(const struct command *cmd, int argc, char **argv);

/* An output that is either stdout or a file written through a temporary
 * name and renamed into place only when every write succeeded, so a full
 * disk gives an error, never a truncated file. */
struct outfile {
	FILE *fp;
	char *path; /* NULL for stdout */
	char *tmp;
	bool direct; /* a special file (device, pipe) written in place */
};
/* path NULL or "-" means stdout. Returns 0 or prints and returns EXIT_FAIL. */
int outfile_open(struct outfile *o, const char *path);
/* Flushes and checks for write errors; on success renames the temporary
 * into place. With ok false (the command failed) removes the temporary.
 * Returns EXIT_OK, or prints the error and returns EXIT_FAIL. */
int outfile_close(struct outfile *o, bool ok);

/* Opens path for reading ("-" or NULL is stdin). Returns an fd, or prints
 * an error and returns -1. */
int cli_open_input(const char *path);
const char *cli_input_name(const char *path);

/* Signals for commands that watch another process (record, mem): SIGINT,
 * SIGTERM and SIGHUP set cli_stop_requested; SIGCHLD only interrupts a
 * blocking call, so a child's end is noticed at once. No SA_RESTART. */
struct cli_signals {
	struct sigaction old_int, old_term, old_hup, old_chld;
};
extern volatile sig_atomic_t cli_stop_requested;
void cli_signals_install(struct cli_signals *s);
void cli_signals_restore(const struct cli_signals *s);

/* The path of a file named name in the kiln binary's own directory (the
 * heap tracker, libkiln-heap.so, is built there); malloc'd, or NULL when
 * /proc/self/exe cannot be read. */
char *cli_sibling_path(const char *name);

/* CLOCK_MONOTONIC in seconds. */
double cli_now(void);

/* Progress on stderr, only when stderr is a terminal and not quiet. */
struct progress {
	bool enabled;
	double last;
	const char *what;
};
void progress_init(struct progress *p, const char *what);
void progress_update(struct progress *p, unsigned long long bytes, unsigned long long total);
void progress_done(struct progress *p);

#endif
