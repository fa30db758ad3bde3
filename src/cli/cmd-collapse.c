/* cmd-collapse: `kiln collapse`, perf script text (or folded stacks, or a
 * pprof profile) to sorted folded stacks. Options and output follow
 * inferno-collapse-perf by default and stackcollapse-perf.pl with
 * --compat perl. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/input.h"
#include "format/perfscript.h"
#include "format/pprof.h"
#include "model/profile.h"

static const char usage[] =
	"usage: kiln collapse [OPTIONS] [FILE...]\n"
	"\n"
	"Reads `perf script` output (or folded stacks, or a pprof profile) from\n"
	"FILEs or standard input and writes folded stacks, one \"a;b;c COUNT\" line\n"
	"per distinct stack, sorted. The default output matches\n"
	"inferno-collapse-perf byte for byte; --compat perl matches FlameGraph's\n"
	"stackcollapse-perf.pl.\n"
	"\n"
	"Options:\n"
	"  --pid                 include the PID with process names (comm-PID)\n"
	"  --tid                 include the PID and TID with process names (comm-PID/TID)\n"
	"  --kernel              annotate kernel functions with _[k]\n"
	"  --jit                 annotate JIT functions with _[j]\n"
	"  --all                 all annotations (--kernel --jit)\n"
	"  --addrs               include raw addresses where symbols cannot be found\n"
	"  --event-filter EVENT  only samples of EVENT (default: the first event seen)\n"
	"  --skip-after FUNC     drop the callers of FUNC (and the process name);\n"
	"                        may be given several times\n"
	"  --compat MODE         inferno (default) or perl\n"
	"  -n, --nthreads N      worker threads (default: the number of CPUs, at most 4)\n"
	"  -o, --output FILE     write to FILE instead of standard output\n"
	"  --format FMT          folded (default) or pprof (gzipped profile.proto);\n"
	"                        an output file named *.pb.gz implies pprof\n"
	"  -q, --quiet           no warnings and no progress\n"
	"  -v, --verbose         say which event is used and how much was read\n"
	"  -h, --help            this help\n"
	"\n"
	"Unrecognised lines get a warning with their line number and are skipped.\n"
	"Exit status: 0 success, 1 failure (unreadable or non-perf-script input,\n"
	"write error), 2 usage error.\n";

struct collapse_ctx {
	const char *path;
	unsigned long warnings_shown;
	struct progress progress;
};

enum { MAX_WARNINGS_SHOWN = 20 };

static void on_warning(void *arg, const struct perfscript_warning *w)
{
	struct collapse_ctx *c = arg;
	if (cli_quiet || c->warnings_shown++ >= MAX_WARNINGS_SHOWN)
		return;
	cli_warn("%s:%lu: %s: %s", cli_input_name(c->path), w->line, w->kind, w->text);
}

static void on_progress(void *arg, unsigned long long bytes)
{
	struct collapse_ctx *c = arg;
	progress_update(&c->progress, bytes, 0);
}

enum {
	OPT_PID = 256, OPT_TID, OPT_KERNEL, OPT_JIT, OPT_ALL, OPT_ADDRS, OPT_EVENT_FILTER,
	OPT_SKIP_AFTER, OPT_COMPAT, OPT_FORMAT,
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static void write_folded(const struct foldtab *t, FILE *out)
{
	const struct fold_entry **v = foldtab_sorted(t);
	for (size_t i = 0; i < t->count; i++) {
		fwrite(v[i]->key, 1, v[i]->len, out);
		fprintf(out, " %llu\n", (unsigned long long)v[i]->count);
	}
	free(v);
}

/* The folded stacks as a pprof profile: one location per distinct frame
 * name, one sample per stack, sample type samples/count. */
static int write_pprof(const struct foldtab *t, FILE *out)
{
	struct profile prof;
	profile_init(&prof);
	const struct fold_entry **v = foldtab_sorted(t);
	int err = 0;
	for (size_t i = 0; i < t->count && !err; i++)
		err = profile_add_folded(&prof, v[i]->key, v[i]->len,
					 v[i]->count > INT64_MAX ? INT64_MAX : (int64_t)v[i]->count);
	free(v);
	if (!err)
		err = pprof_write(&prof, out, 6);
	profile_release(&prof);
	return err ? cli_error("cannot write the profile: %s", kiln_strerror(err)) : EXIT_OK;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pid", no_argument, NULL, OPT_PID},
		{"tid", no_argument, NULL, OPT_TID},
		{"kernel", no_argument, NULL, OPT_KERNEL},
		{"jit", no_argument, NULL, OPT_JIT},
		{"all", no_argument, NULL, OPT_ALL},
		{"addrs", no_argument, NULL, OPT_ADDRS},
		{"event-filter", required_argument, NULL, OPT_EVENT_FILTER},
		{"skip-after", required_argument, NULL, OPT_SKIP_AFTER},
		{"compat", required_argument, NULL, OPT_COMPAT},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"nthreads", required_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	struct perfscript_options o = {0};
	const char **skip = NULL;
	size_t nskip = 0, skip_cap = 0;
	const char *output = NULL;
	const char *format = NULL;
	int verbose = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.nthreads = ncpu > 4 ? 4 : ncpu < 1 ? 1 : (unsigned)ncpu;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:o:qv", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_PID: o.include_pid = true; break;
		case OPT_TID: o.include_tid = true; break;
		case OPT_KERNEL: o.annotate_kernel = true; break;
		case OPT_JIT: o.annotate_jit = true; break;
		case OPT_ALL: o.annotate_kernel = o.annotate_jit = true; break;
		case OPT_ADDRS: o.include_addrs = true; break;
		case OPT_EVENT_FILTER: o.event_filter = optarg; break;
		case OPT_SKIP_AFTER:
			skip = xgrow(skip, sizeof(*skip), nskip + 1, &skip_cap);
			skip[nskip++] = optarg;
			break;
		case OPT_COMPAT:
			if (!strcmp(optarg, "perl"))
				o.dialect = PERFSCRIPT_PERL;
			else if (!strcmp(optarg, "inferno"))
				o.dialect = PERFSCRIPT_INFERNO;
			else {
				free(skip);
				return cli_usage_error(&cmd_collapse, "--compat takes 'inferno' or 'perl', not '%s'", optarg);
			}
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "folded") && strcmp(optarg, "pprof")) {
				free(skip);
				return cli_usage_error(&cmd_collapse, "--format takes 'folded' or 'pprof', not '%s'", optarg);
			}
			format = optarg;
			break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 64) {
				free(skip);
				return cli_usage_error(&cmd_collapse, "--nthreads takes a number from 1 to 64");
			}
			o.nthreads = (unsigned)n;
			break;
		}
		case 'o': output = optarg; break;
		case 'q': cli_quiet = true; break;
		case 'v': verbose++; break;
		default:
			free(skip);
			return cli_usage_error(&cmd_collapse, "unknown option");
		}
	}
	if (nskip && o.dialect == PERFSCRIPT_PERL) {
		free(skip);
		return cli_usage_error(&cmd_collapse, "--skip-after is not an option of stackcollapse-perf.pl");
	}
	o.skip_after = skip;
	o.nskip_after = nskip;
	bool pprof_out = format ? !strcmp(format, "pprof") : (output && ends_with(output, ".pb.gz"));

	struct foldtab table;
	foldtab_init(&table);
	struct outfile out;
	int rc = outfile_open(&out, output);
	if (rc) {
		foldtab_release(&table);
		free(skip);
		return rc;
	}
	int nfiles = argc - optind;
	for (int i = 0; i < (nfiles ? nfiles : 1) && rc == EXIT_OK; i++) {
		const char *path = nfiles ? argv[optind + i] : NULL;
		struct collapse_ctx ctx = {.path = path};
		progress_init(&ctx.progress, "collapse");
		struct perfscript_io io = {on_warning, on_progress, &ctx};
		struct input_stats ist = {0};
		rc = input_collapse(path, &o, &io, &table, &ist);
		progress_done(&ctx.progress);
		if (rc == EXIT_OK && ctx.warnings_shown > MAX_WARNINGS_SHOWN)
			cli_warn("%s: %lu more unrecognised lines not shown", cli_input_name(path),
				 ctx.warnings_shown - MAX_WARNINGS_SHOWN);
		if (rc == EXIT_OK && verbose)
			fprintf(stderr, "kiln: %s: %s, %llu bytes, %lu lines, %lu samples%s%s\n",
				cli_input_name(path), ist.format, ist.bytes, ist.lines, ist.samples,
				ist.event[0] ? ", event " : "", ist.event);
	}
	if (rc == EXIT_OK) {
		if (pprof_out)
			rc = write_pprof(&table, out.fp);
		else
			write_folded(&table, out.fp);
	}
	rc = outfile_close(&out, rc == EXIT_OK) ? EXIT_FAIL : rc;
	foldtab_release(&table);
	free(skip);
	return rc;
}

const struct command cmd_collapse = {
	"collapse", run, "perf script text (or folded, or pprof) to folded stacks", usage,
};
