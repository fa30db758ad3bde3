/* cmd-check: kiln check, performance budgets as a CI gate: each results
 * folder's summary.json (and, against a baseline, both runs' cpu.pb.gz) is
 * held to the budgets of flags, budget files or the seeds' defaults.
 * Invariant: the exit code is 2 for bad usage, budgets or budget files,
 * 1 when any budget is breached or any results folder is unreadable, else
 * 0; a folder's summary.json is rewritten only with --no-write absent. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze/budget.h"
#include "analyze/selfshare.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "format/pprof.h"
#include "format/runsummary.h"
#include "render/htmlreport.h"
#include "render/junit.h"

static const char usage_text[] =
	"usage: kiln check [--budget FILE] [BUDGETS] [OPTIONS] RESULTS...\n"
	"\n"
	"Hold each RESULTS folder (a kiln run results folder, or its summary.json)\n"
	"to performance budgets, print a table of budget, limit, measured and\n"
	"verdict, and exit 1 if any budget is breached: a CI gate.\n"
	"\n"
	"Budgets (only those given are checked):\n"
	"      --max-self P%         no function above P% of CPU time (self)\n"
	"      --max-lock-wait P%    time blocked in locks below P% of the run's\n"
	"                            on- and off-CPU time\n"
	"      --max-heap SIZE       peak heap below SIZE (500MB, 500MiB, 1.5G, 4096)\n"
	"      --max-rss SIZE        peak RSS below SIZE\n"
	"      --no-leaks            no memory definitely lost\n"
	"      --heap-stable         live heap (else RSS) grows less than 10 MB/hour\n"
	"      --max-alloc-rate RATE allocation rate below RATE (100MB/s)\n"
	"      --max-frag P%         heap fragmentation below P%\n"
	"      --baseline DIR        compare against the results folder DIR ...\n"
	"      --max-regress P       ... no function's self share grew by more than\n"
	"                            P points, and peak heap by no more than P%\n"
	"      --seed-defaults       the seeds' checklist: --max-self 10%\n"
	"                            --max-heap 500MB --max-alloc-rate 100MB/s\n"
	"                            --max-frag 20% --no-leaks --heap-stable\n"
	"                            (other budgets given override these)\n"
	"\n"
	"Options:\n"
	"  -b, --budget FILE         read budgets from FILE: 'key = value' lines,\n"
	"                            keys named as the flags (max-self = 10%,\n"
	"                            no-leaks = true, max-heap = off), '#' comments;\n"
	"                            may be given more than once (later files win);\n"
	"                            flags override files\n"
	"      --strict              a budget the run has no data for fails\n"
	"                            (default: skipped, shown as SKIP)\n"
	"      --junit FILE          also write the verdicts as JUnit XML\n"
	"      --no-write            leave the results folders untouched (by\n"
	"                            default each summary.json gets a 'checks'\n"
	"                            section and the HTML report is refreshed)\n"
	"  -q, --quiet               print only breaches and the verdict line\n"
	"  -h, --help                show this help\n"
	"\n"
	"Sizes: decimal units (KB, MB, GB, TB) are powers of 1000, binary units\n"
	"(KiB, MiB, GiB, TiB) powers of 1024; a bare number is bytes. Percents:\n"
	"10% or 10. See docs/check.md.\n"
	"\n"
	"Examples:\n"
	"  kiln check --max-self 10% --no-leaks results/\n"
	"  kiln check --budget perf.budget --junit check.xml results/*/\n"
	"  kiln check --baseline results/main --max-regress 5 results/pr\n"
	"\n"
	"Exit status: 0 every budget met, 1 a budget breached or unreadable\n"
	"results, 2 usage error (bad flag, value or budget file).\n";

const struct command cmd_check;

/* One RESULTS argument and what checking it gave. */
struct folder {
	const char *arg;
	char *dir;     /* the folder (for the report and the profiles) */
	char *summary; /* its summary.json */
	struct runsummary s;
	char *error;   /* why it could not be checked; NULL when it was */
	struct budget_result rows[BUDGET_MAX_RESULTS];
	size_t nrows, failed, skipped;
};

/* Refreshes DIR/index.html from DIR/summary.json. */
/* Redraws DIR/index.html with the verdicts just written into its summary. */
static int refresh_report(const char *dir)
{
	struct diag d = {0};
	int err = htmlreport_write_dir(dir, &d);
	if (err)
		return cli_error("cannot refresh '%s/index.html': %s", dir, d.msg[0] ? d.msg : kiln_strerror(err));
	return EXIT_OK;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		fputs("kiln: out of memory\n", stderr);
		abort();
	}
	return s;
}

static char *error_text(int rc, const struct diag *d)
{
	return xstrdup(d->msg[0] ? d->msg : kiln_strerror(rc));
}

/* Reads a budget file into b. Returns EXIT_OK or prints FILE:LINE: why and
 * returns EXIT_USAGE. */
static int read_budget_file(const char *path, struct budget *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		int err = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : S_ISREG(st.st_mode) ? EFBIG : 0;
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "kiln check: cannot read budget file '%s': %s\n", path,
			err == EFBIG ? "larger than 1 MiB" : err ? strerror(err) : "not a regular file");
		return EXIT_USAGE;
	}
	char *text = xmalloc((size_t)st.st_size + 1);
	size_t n = 0;
	ssize_t got;
	while (n < (size_t)st.st_size && (got = read(fd, text + n, (size_t)st.st_size - n)) > 0)
		n += (size_t)got;
	close(fd);
	struct diag d = {0};
	int rc = budget_read_file(b, text, n, &d);
	free(text);
	if (rc) {
		fprintf(stderr, "kiln check: %s:%lu: %s\n", path, d.line, d.msg);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Loads the self shares of the CPU profile of run s in dir into out.
 * Returns 0 with *missing NULL, 0 with *missing set (no profile there), or
 * -1 with *error set (a profile that cannot be read). */
static int load_shares(const char *dir, const struct runsummary *s, const char *which, struct selfshare *out,
		       char **missing, char **error)
{
	const char *name = s->has_cpu && s->cpu.profile && *s->cpu.profile ? s->cpu.profile : "cpu.pb.gz";
	/* a file of the folder, as the HTML report takes it: no path from a
	 * summary leads outside its folder */
	if (name[0] == '.' || strchr(name, '/')) {
		*error = xprintf("%s names its profile '%s': not a file of its folder", which, name);
		return -1;
	}
	char *path = xprintf("%s/%s", dir, name);
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			*missing = xprintf("no %s in %s", name, which);
		else
			*error = xprintf("cannot read '%s': %s", path, strerror(errno));
		rc = *error ? -1 : 0;
	} else {
		struct profile p;
		struct diag d = {0};
		int err = pprof_read_fd(fd, NULL, 0, &p, &d);
		close(fd);
		if (!err) {
			err = selfshare_add_profile(out, &p);
			profile_release(&p);
		}
		if (err == KILN_ERR_EMPTY) {
			*missing = xprintf("no CPU samples in %s", which);
		} else if (err) {
			*error = xprintf("'%s': %s", path, d.msg[0] ? d.msg : kiln_strerror(err));
			rc = -1;
		}
	}
	free(path);
	return rc;
}

/* Finds arg's folder and summary.json and reads it. Returns 0, or -1 with
 * f->error set. */
static int load_folder(struct folder *f)
{
	struct stat st;
	if (stat(f->arg, &st) != 0) {
		f->error = xprintf("cannot read results '%s': %s", f->arg, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		f->dir = xstrdup(f->arg);
		f->summary = xprintf("%s/%s", f->arg, RUNSUMMARY_FILE);
	} else {
		char *copy = xstrdup(f->arg);
		f->dir = xstrdup(dirname(copy));
		free(copy);
		f->summary = xstrdup(f->arg);
	}
	struct diag d = {0};
	int rc = runsummary_read(f->summary, &f->s, &d);
	if (rc == -ENOENT) {
		f->error = xprintf("'%s' is not a results folder: it has no %s", f->arg, RUNSUMMARY_FILE);
	} else if (rc < 0 && rc > -KILN_ERR_BASE) {
		f->error = xprintf("cannot read '%s': %s", f->summary, strerror(-rc));
	} else if (rc) {
		char *why = error_text(rc, &d);
		f->error = d.line ? xprintf("%s:%lu: %s", f->summary, d.line, why) : xprintf("%s: %s", f->summary, why);
		free(why);
	}
	return rc ? -1 : 0;
}

static const char *verdict_word(enum budget_verdict v)
{
	return v == BUDGET_PASS ? "PASS" : v == BUDGET_FAIL ? "FAIL" : "SKIP";
}

static void print_table(const struct folder *f, bool quiet)
{
	static const char *const head[4] = {"budget", "limit", "measured", "verdict"};
	int w[3] = {(int)strlen(head[0]), (int)strlen(head[1]), (int)strlen(head[2])};
	for (size_t i = 0; i < f->nrows; i++) {
		const struct budget_result *r = &f->rows[i];
		const char *cols[3] = {r->label, r->limit, r->measured};
		for (int c = 0; c < 3; c++)
			if ((int)strlen(cols[c]) > w[c])
				w[c] = (int)strlen(cols[c]);
	}
	printf("%s\n", f->arg);
	if (quiet && !f->failed)
		return;
	printf("  %-*s  %-*s  %-*s  %s\n", w[0], head[0], w[1], head[1], w[2], head[2], head[3]);
	for (size_t i = 0; i < f->nrows; i++) {
		const struct budget_result *r = &f->rows[i];
		if (quiet && r->verdict != BUDGET_FAIL)
			continue;
		printf("  %-*s  %-*s  %-*s  %s\n", w[0], r->label, w[1], r->limit, w[2], r->measured,
		       verdict_word(r->verdict));
	}
}

static void rfc3339_now(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Puts f's verdicts into its summary.json and refreshes its report.
 * Returns EXIT_OK or prints why not and returns EXIT_FAIL. */
static int write_back(struct folder *f, const char *checked_at)
{
	struct runsummary *s = &f->s;
	for (size_t i = 0; i < s->checks.n; i++) {
		free(s->checks.items[i].budget);
		free(s->checks.items[i].limit);
		free(s->checks.items[i].measured);
		free(s->checks.items[i].verdict);
	}
	free(s->checks.items);
	s->has_checks = true;
	runsummary_set(&s->checks.checked_at, checked_at);
	s->checks.passed = f->failed == 0;
	s->checks.n = f->nrows;
	s->checks.items = xcalloc(f->nrows ? f->nrows : 1, sizeof(*s->checks.items));
	for (size_t i = 0; i < f->nrows; i++) {
		struct runsummary_check *c = &s->checks.items[i];
		c->budget = xstrdup(budget_key(f->rows[i].kind));
		c->limit = xstrdup(f->rows[i].limit);
		c->measured = xstrdup(f->rows[i].measured);
		c->verdict = xstrdup(budget_verdict_name(f->rows[i].verdict));
	}
	struct outfile out;
	if (outfile_open(&out, f->summary) != EXIT_OK)
		return cli_error("cannot record the verdicts in '%s' (read-only? use --no-write)", f->summary);
	int rc = runsummary_write(s, out.fp);
	if (outfile_close(&out, rc == 0) != EXIT_OK || rc)
		return cli_error("cannot record the verdicts in '%s': %s", f->summary, kiln_strerror(rc ? rc : -EIO));
	return refresh_report(f->dir);
}

static int write_junit(const char *path, struct folder *folders, size_t n, const char *checked_at)
{
	struct junit_suite *suites = xcalloc(n, sizeof(*suites));
	char **texts = xcalloc(n * BUDGET_MAX_RESULTS + 1, sizeof(*texts));
	size_t ntexts = 0;
	for (size_t i = 0; i < n; i++) {
		struct folder *f = &folders[i];
		struct junit_case *cases = xcalloc(f->nrows + 1, sizeof(*cases));
		suites[i] = (struct junit_suite){.name = f->arg, .timestamp = checked_at, .cases = cases,
						 .ncases = f->error ? 1 : f->nrows};
		if (f->error) {
			cases[0] = (struct junit_case){.name = "read results", .classname = "kiln.check",
						      .status = JUNIT_ERROR, .message = f->error};
			continue;
		}
		for (size_t j = 0; j < f->nrows; j++) {
			const struct budget_result *r = &f->rows[j];
			char *msg = texts[ntexts++] =
				xprintf("%s: %s (limit %s)%s", r->label, r->measured, r->limit,
					r->verdict == BUDGET_FAIL ? ": breached" : "");
			cases[j] = (struct junit_case){
				.name = r->label,
				.classname = "kiln.check",
				.status = r->verdict == BUDGET_PASS ? JUNIT_PASS
					  : r->verdict == BUDGET_FAIL ? JUNIT_FAIL : JUNIT_SKIP,
				.message = r->verdict == BUDGET_SKIP ? r->measured : msg,
				.output = msg,
			};
		}
	}
	struct outfile out;
	int rc = outfile_open(&out, path);
	if (rc == EXIT_OK) {
		int err = junit_write(out.fp, "kiln check", suites, n);
		rc = outfile_close(&out, err == 0);
		if (err && rc == EXIT_OK)
			rc = cli_error("cannot write '%s': %s", path, kiln_strerror(err));
	}
	for (size_t i = 0; i < n; i++)
		free((void *)suites[i].cases);
	for (size_t i = 0; i < ntexts; i++)
		free(texts[i]);
	free(texts);
	free(suites);
	return rc;
}

enum {
	OPT_BASE = 256,
	OPT_JUNIT = OPT_BASE + BUDGET_NKINDS,
	OPT_NO_WRITE,
	OPT_BASELINE,
	OPT_STRICT,
	OPT_SEED_DEFAULTS,
};

/* Parses the options into flags and files (in order). Returns EXIT_OK, or
 * EXIT_USAGE after printing why. */
static int parse_args(int argc, char **argv, struct budget *flags, struct budget *files, const char **junit,
		      bool *no_write)
{
	static const struct option longopts[] = {
		{"max-self", required_argument, NULL, OPT_BASE + BUDGET_MAX_SELF},
		{"max-lock-wait", required_argument, NULL, OPT_BASE + BUDGET_MAX_LOCK_WAIT},
		{"max-heap", required_argument, NULL, OPT_BASE + BUDGET_MAX_HEAP},
		{"max-rss", required_argument, NULL, OPT_BASE + BUDGET_MAX_RSS},
		{"no-leaks", no_argument, NULL, OPT_BASE + BUDGET_NO_LEAKS},
		{"heap-stable", no_argument, NULL, OPT_BASE + BUDGET_HEAP_STABLE},
		{"max-alloc-rate", required_argument, NULL, OPT_BASE + BUDGET_MAX_ALLOC_RATE},
		{"max-frag", required_argument, NULL, OPT_BASE + BUDGET_MAX_FRAG},
		{"max-regress", required_argument, NULL, OPT_BASE + BUDGET_MAX_REGRESS},
		{"baseline", required_argument, NULL, OPT_BASELINE},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"seed-defaults", no_argument, NULL, OPT_SEED_DEFAULTS},
		{"budget", required_argument, NULL, 'b'},
		{"junit", required_argument, NULL, OPT_JUNIT},
		{"no-write", no_argument, NULL, OPT_NO_WRITE},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "b:q", longopts, NULL)) != -1) {
		struct diag d = {0};
		const char *key = NULL;
		switch (opt) {
		case 'b':
			if (read_budget_file(optarg, files) != EXIT_OK)
				return EXIT_USAGE;
			continue;
		case 'q':
			cli_quiet = true;
			continue;
		case OPT_JUNIT:
			*junit = optarg;
			continue;
		case OPT_NO_WRITE:
			*no_write = true;
			continue;
		case OPT_BASELINE:
			key = "baseline";
			break;
		case OPT_STRICT:
			key = "strict";
			break;
		case OPT_SEED_DEFAULTS:
			key = "seed-defaults";
			break;
		default:
			if (opt < OPT_BASE || opt >= OPT_BASE + BUDGET_NKINDS)
				return cli_usage_error(&cmd_check, "unknown option");
			key = budget_key((enum budget_kind)(opt - OPT_BASE));
		}
		if (budget_set(flags, key, optarg, &d))
			return cli_usage_error(&cmd_check, "--%s", d.msg);
	}
	return EXIT_OK;
}

static int check_run(int argc, char **argv)
{
	struct budget flags, b;
	budget_init(&flags);
	budget_init(&b);
	const char *junit = NULL;
	bool no_write = false;
	int rc = parse_args(argc, argv, &flags, &b, &junit, &no_write);
	struct diag d = {0};
	if (rc == EXIT_OK) {
		budget_merge(&b, &flags);
		if (b.seed_defaults)
			budget_seed_defaults(&b);
		if (budget_validate(&b, &d))
			rc = cli_usage_error(&cmd_check, "%s", d.msg);
		else if (optind >= argc)
			rc = cli_usage_error(&cmd_check, "no RESULTS folder to check");
	}
	budget_release(&flags);
	if (rc != EXIT_OK) {
		budget_release(&b);
		return rc;
	}

	/* the baseline, read once */
	struct runsummary base = {0};
	struct selfshare base_cpu;
	selfshare_init(&base_cpu);
	char *base_missing = NULL, *base_error = NULL;
	bool have_base_cpu = false;
	if (b.baseline) {
		struct folder bf = {.arg = b.baseline};
		if (load_folder(&bf) != 0) {
			rc = cli_error("baseline: %s", bf.error);
		} else if (load_shares(bf.dir, &bf.s, "the baseline", &base_cpu, &base_missing, &base_error) != 0) {
			rc = cli_error("baseline: %s", base_error);
		} else {
			have_base_cpu = !base_missing;
			base = bf.s;
			bf.s = (struct runsummary){0};
		}
		free(bf.dir);
		free(bf.summary);
		free(bf.error);
	}

	size_t n = rc == EXIT_OK ? (size_t)(argc - optind) : 0;
	struct folder *folders = xcalloc(n + 1, sizeof(*folders));
	char checked_at[32];
	rfc3339_now(checked_at, sizeof(checked_at));
	size_t errors = 0, breached = 0, failed = 0, skipped = 0, rows = 0;
	for (size_t i = 0; i < n; i++) {
		struct folder *f = &folders[i];
		f->arg = argv[optind + i];
		struct selfshare cpu;
		selfshare_init(&cpu);
		char *cpu_missing = NULL;
		if (load_folder(f) == 0 && b.baseline &&
		    load_shares(f->dir, &f->s, "this run", &cpu, &cpu_missing, &f->error) != 0)
			runsummary_release(&f->s);
		if (f->error) {
			cli_error("%s", f->error);
			errors++;
			selfshare_release(&cpu);
			continue;
		}
		struct budget_baseline bl = {
			.summary = &base,
			.cpu = cpu_missing ? NULL : &cpu,
			.base_cpu = have_base_cpu ? &base_cpu : NULL,
			.cpu_missing = cpu_missing ? cpu_missing : base_missing,
		};
		f->nrows = budget_evaluate(&b, &f->s, &bl, f->rows);
		for (size_t j = 0; j < f->nrows; j++) {
			f->failed += f->rows[j].verdict == BUDGET_FAIL;
			f->skipped += f->rows[j].verdict == BUDGET_SKIP;
		}
		selfshare_release(&cpu);
		free(cpu_missing);
		rows += f->nrows;
		failed += f->failed;
		skipped += f->skipped;
		breached += f->failed > 0;
		print_table(f, cli_quiet);
		if (!no_write && write_back(f, checked_at) != EXIT_OK)
			errors++;
	}
	if (rc == EXIT_OK && junit && write_junit(junit, folders, n, checked_at) != EXIT_OK)
		rc = EXIT_FAIL;

	if (rc == EXIT_OK) {
		char skips[48] = "";
		if (skipped)
			snprintf(skips, sizeof(skips), " (%zu skipped)", skipped);
		if (failed || errors) {
			printf("kiln check: FAIL: %zu of %zu budgets breached%s in %zu of %zu results", failed, rows, skips,
			       breached, n);
			if (errors)
				printf("; %zu results could not be checked or recorded", errors);
			printf("\n");
			rc = EXIT_FAIL;
		} else {
			printf("kiln check: PASS: %zu budgets met%s in %zu results\n", rows - skipped, skips, n);
		}
		if (fflush(stdout) || ferror(stdout))
			rc = cli_error("cannot write to standard output");
	}
	for (size_t i = 0; i < n; i++) {
		runsummary_release(&folders[i].s);
		free(folders[i].dir);
		free(folders[i].summary);
		free(folders[i].error);
	}
	free(folders);
	runsummary_release(&base);
	selfshare_release(&base_cpu);
	free(base_missing);
	free(base_error);
	budget_release(&b);
	return rc;
}

const struct command cmd_check = {
	.name = "check",
	.run = check_run,
	.summary = "hold results folders to performance budgets (a CI gate)",
	.usage = usage_text,
};
