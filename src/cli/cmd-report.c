/* cmd-report: `kiln report`, a text (or JSON) summary of a profile: the top
 * functions by self and total value, or the call tree, optionally per
 * thread, from pprof, folded stacks or perf script text.
 * Invariant: the output file is opened only once the report is built, so a
 * bad input never leaves an output behind. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "cli/cli.h"
#include "cli/input.h"
#include "model/profile.h"
#include "render/report.h"

static const char usage[] =
	"usage: kiln report [OPTIONS] [FILE]\n"
	"\n"
	"Summarises a profile: a pprof profile (kiln's, Go's runtime/pprof,\n"
	"pprof-rs, ...), folded stacks or `perf script` text, read from FILE or\n"
	"standard input. The default output is a header (input, sample type and\n"
	"unit, total, samples) and the top functions sorted by self value: flat\n"
	"(self), flat%, sum% (running flat%), cum (total: samples with the\n"
	"function anywhere on the stack, counted once however often it recurs),\n"
	"cum% and the function.\n"
	"\n"
	"Options:\n"
	"  --sort KEY            self (default), total or name\n"
	"  --limit N             show the top N rows (default 20; 0: all)\n"
	"  --tree                print the call tree instead of the table\n"
	"  --min-percent P       hide tree nodes under P% of the total (default 0.5)\n"
	"  --threads             one report per thread (pprof labels thread,\n"
	"                        thread_name or tid)\n"
	"  --sample-type NAME    the value to sum: cpu, samples, alloc_space, ...,\n"
	"                        TYPE/UNIT or an index (default: the profile's\n"
	"                        default sample type, else its last)\n"
	"  --lines               one row per function and source line\n"
	"  --json                write JSON instead of text\n"
	"  -o, --output FILE     write to FILE instead of standard output\n"
	"  -q, --quiet           no warnings\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 success, 1 failure (unreadable input, unknown sample\n"
	"type, write error), 2 usage error.\n";

enum {
	OPT_SORT = 256, OPT_LIMIT, OPT_TREE, OPT_MIN_PERCENT, OPT_THREADS, OPT_SAMPLE_TYPE,
	OPT_LINES, OPT_JSON,
};

/* Lists the profile's sample types as "a/b, c/d" for an error message. */
static void list_types(const struct profile *p, struct strbuf *sb)
{
	for (size_t i = 0; i < p->nsample_types; i++)
		strbuf_addf(sb, "%s%s/%s", i ? ", " : "", profile_str(p, p->sample_types[i].type),
			    profile_str(p, p->sample_types[i].unit));
	if (!p->nsample_types)
		strbuf_adds(sb, "none");
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"sort", required_argument, NULL, OPT_SORT},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"tree", no_argument, NULL, OPT_TREE},
		{"min-percent", required_argument, NULL, OPT_MIN_PERCENT},
		{"threads", no_argument, NULL, OPT_THREADS},
		{"sample-type", required_argument, NULL, OPT_SAMPLE_TYPE},
		{"lines", no_argument, NULL, OPT_LINES},
		{"json", no_argument, NULL, OPT_JSON},
		{"output", required_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	struct report_options ro = {.value_index = -1, .sort = REPORT_SORT_SELF};
	struct report_view view = {.limit = 20, .min_percent = 0.5};
	const char *output = NULL, *sample_type = NULL;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:q", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SORT:
			if (!strcmp(optarg, "self"))
				ro.sort = REPORT_SORT_SELF;
			else if (!strcmp(optarg, "total") || !strcmp(optarg, "cum"))
				ro.sort = REPORT_SORT_TOTAL;
			else if (!strcmp(optarg, "name"))
				ro.sort = REPORT_SORT_NAME;
			else
				return cli_usage_error(&cmd_report, "--sort takes self, total or name, not '%s'", optarg);
			break;
		case OPT_LIMIT: {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(optarg, &end, 10);
			if (!*optarg || *end || errno || optarg[0] == '-' || n > (size_t)-1)
				return cli_usage_error(&cmd_report, "--limit takes a number (0: all), not '%s'", optarg);
			view.limit = (size_t)n;
			break;
		}
		case OPT_TREE: ro.tree = view.tree = true; break;
		case OPT_MIN_PERCENT: {
			char *end;
			double p = strtod(optarg, &end);
			if (!*optarg || *end || !isfinite(p) || p < 0 || p > 100)
				return cli_usage_error(&cmd_report, "--min-percent takes a number from 0 to 100, not '%s'", optarg);
			view.min_percent = p;
			break;
		}
		case OPT_THREADS: ro.threads = true; break;
		case OPT_SAMPLE_TYPE: sample_type = optarg; break;
		case OPT_LINES: ro.lines = true; break;
		case OPT_JSON: json = true; break;
		case 'o': output = optarg; break;
		case 'q': cli_quiet = true; break;
		default:
			return cli_usage_error(&cmd_report, "unknown option");
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(&cmd_report, "takes one input file, not %d", argc - optind);
	const char *path = optind < argc ? argv[optind] : NULL;
	const char *name = cli_input_name(path);

	struct input in;
	if (input_open(&in, path))
		return EXIT_FAIL;
	struct profile prof;
	struct input_stats st = {0};
	int rc = input_profile_from(&in, &prof, &st);
	input_close(&in);
	if (rc)
		return rc;

	if (sample_type) {
		ro.value_index = profile_value_index(&prof, sample_type);
		if (ro.value_index < 0) {
			struct strbuf sb = STRBUF_INIT;
			list_types(&prof, &sb);
			cli_error("%s: no sample type '%s' (it has: %s)", name, sample_type, strbuf_str(&sb));
			strbuf_release(&sb);
			profile_release(&prof);
			return EXIT_FAIL;
		}
	}
	struct report rep;
	int err = report_build(&rep, &prof, &ro);
	profile_release(&prof);
	if (err)
		return cli_error("%s: cannot build the report: %s", name, kiln_strerror(err));
	if (ro.threads && !rep.has_threads && rep.value_index >= 0)
		cli_warn("%s: no thread labels (thread, thread_name or tid); all samples form one group",
			 name);

	struct outfile out;
	rc = outfile_open(&out, output);
	if (rc == EXIT_OK) {
		view.input = name;
		view.format = st.format;
		/* The writers' stream errors stay in out.fp, where outfile_close
		 * finds them and reports them with their cause. */
		if (json)
			report_write_json(&rep, &view, out.fp);
		else
			report_write_text(&rep, &view, out.fp);
		rc = outfile_close(&out, true);
	}
	report_release(&rep);
	return rc;
}

const struct command cmd_report = {
	"report", run, "top functions and call tree of a profile, as text or JSON", usage,
};
