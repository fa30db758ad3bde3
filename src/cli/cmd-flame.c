/* cmd-flame: kiln flame, folded stacks -> an interactive flame graph SVG,
 * with flamegraph.pl's options. Reads every input into one merged graph.
 * Invariant: the SVG goes through outfile, so -o never leaves a truncated
 * file; empty input still gives a (valid, error-message) SVG and exit 1. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/linereader.h"
#include "cli/cli.h"
#include "cli/input.h"
#include "format/folded.h"
#include "render/flame.h"

static const char usage_text[] =
	"usage: kiln flame [OPTIONS] [FILE...] > graph.svg\n"
	"\n"
	"Renders folded stacks (\"root;child;leaf COUNT\" lines, or differential\n"
	"\"stack BEFORE AFTER\" lines as difffolded.pl writes) as one interactive\n"
	"SVG flame graph. Reads every FILE (\"-\" or none: standard input) into one\n"
	"graph. Hover for details, click to zoom, Search for a regular expression;\n"
	"zoom and search are kept in the URL (?x=..&y=..&s=..&i=1).\n"
	"\n"
	"Options (flamegraph.pl's, with the same meaning):\n"
	"  -o, --output FILE   write the SVG to FILE instead of standard output\n"
	"  -q, --quiet         no warnings or progress\n"
	"  --title TEXT        title (default \"Flame Graph\", \"Icicle Graph\" with\n"
	"                      --inverted, \"Flame Chart\" with --flamechart)\n"
	"  --subtitle TEXT     second title line (default none)\n"
	"  --width NUM         image width in pixels (default 1200)\n"
	"  --height NUM        height of each frame in pixels (default 16)\n"
	"  --minwidth NUM[%]   omit frames narrower than NUM pixels, or NUM percent\n"
	"                      of the total with \"%\" (default 0.1 pixels)\n"
	"  --fonttype FONT     font family (default \"Verdana\")\n"
	"  --fontsize NUM      font size (default 12)\n"
	"  --fontwidth NUM     average character width / font size, for fitting\n"
	"                      labels (default 0.59)\n"
	"  --countname TEXT    what the counts are (default \"samples\")\n"
	"  --nametype TEXT     what the names are (default \"Function:\")\n"
	"  --colors PALETTE    hot (default), mem, io, wakeup, chain, java, js, perl,\n"
	"                      red, green, blue, aqua, yellow, purple, orange\n"
	"  --hash              colours keyed by a hash of the name (default: the\n"
	"                      name seeds flamegraph.pl's colour draw; both are\n"
	"                      deterministic)\n"
	"  --reverse           reverse each stack: the leaf becomes the root\n"
	"  --inverted          icicle graph: the root at the top\n"
	"  --flamechart        flame chart: keep input order, merge only adjacent\n"
	"                      equal frames\n"
	"  --negate            swap differential colours (blue grew, red shrank)\n"
	"  --factor NUM        multiply the counts shown by NUM (default 1)\n"
	"  --notes TEXT        notes, written in an XML comment in the SVG\n"
	"  -h, --help          this help\n"
	"\n"
	"Differential input: widths come from the second count; a frame is red\n"
	"when it grew, blue when it shrank, darker for larger changes.\n"
	"Lines that are not folded stacks are skipped with one warning per file.\n"
	"Exit status: 0 success; 1 on errors, and when there is no valid input (an\n"
	"SVG saying \"ERROR: No valid input provided.\" is still written);\n"
	"2 usage error.\n";

enum {
	OPT_TITLE = 256, OPT_SUBTITLE, OPT_WIDTH, OPT_HEIGHT, OPT_MINWIDTH, OPT_FONTTYPE,
	OPT_FONTSIZE, OPT_FONTWIDTH, OPT_COUNTNAME, OPT_NAMETYPE, OPT_COLORS, OPT_HASH,
	OPT_REVERSE, OPT_INVERTED, OPT_FLAMECHART, OPT_NEGATE, OPT_FACTOR, OPT_NOTES,
};

static const struct option long_options[] = {
	{"output", required_argument, NULL, 'o'},
	{"quiet", no_argument, NULL, 'q'},
	{"title", required_argument, NULL, OPT_TITLE},
	{"subtitle", required_argument, NULL, OPT_SUBTITLE},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"height", required_argument, NULL, OPT_HEIGHT},
	{"minwidth", required_argument, NULL, OPT_MINWIDTH},
	{"fonttype", required_argument, NULL, OPT_FONTTYPE},
	{"fontsize", required_argument, NULL, OPT_FONTSIZE},
	{"fontwidth", required_argument, NULL, OPT_FONTWIDTH},
	{"countname", required_argument, NULL, OPT_COUNTNAME},
	{"nametype", required_argument, NULL, OPT_NAMETYPE},
	{"colors", required_argument, NULL, OPT_COLORS},
	{"colours", required_argument, NULL, OPT_COLORS},
	{"hash", no_argument, NULL, OPT_HASH},
	{"reverse", no_argument, NULL, OPT_REVERSE},
	{"inverted", no_argument, NULL, OPT_INVERTED},
	{"flamechart", no_argument, NULL, OPT_FLAMECHART},
	{"negate", no_argument, NULL, OPT_NEGATE},
	{"factor", required_argument, NULL, OPT_FACTOR},
	{"notes", required_argument, NULL, OPT_NOTES},
	{NULL, 0, NULL, 0},
};

extern const struct command cmd_flame;

/* Parses a whole-string number in [lo, hi]; returns 0 or -1. */
static int parse_number(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

struct feed {
	struct flame *f;
	struct progress progress;
	const struct folded_stats *stats; /* lines and bytes read so far */
	unsigned long long size;
	unsigned long rejected;      /* parsed lines flame_add refused */
	unsigned long first_rejected;
};

static int feed_line(void *ctx, const struct folded_line *fl)
{
	struct feed *fd = ctx;
	if (flame_add(fd->f, fl->stack, fl->len, fl->count, fl->count2, fl->ncounts) < 0) {
		if (!fd->rejected++)
			fd->first_rejected = fd->stats->lines;
	}
	if ((fd->stats->lines & 4095) == 0)
		progress_update(&fd->progress, fd->stats->bytes, fd->size);
	return 0;
}

/* Reads one folded input into f; prints problems. Returns 0 or EXIT_FAIL. */
static int feed_input(const char *path, struct flame *f)
{
	struct input in;
	if (input_open(&in, path))
		return EXIT_FAIL;
	const char *name = cli_input_name(path);
	struct folded_stats stats = {0};
	struct feed feed = {.f = f, .stats = &stats};
	struct stat st;
	if (fstat(in.fd, &st) == 0 && S_ISREG(st.st_mode))
		feed.size = (unsigned long long)st.st_size;
	progress_init(&feed.progress, name);
	int rc = input_stacks_from(&in, feed_line, &feed, &stats);
	progress_done(&feed.progress);
	input_close(&in);
	if (rc)
		return rc;
	unsigned long bad = stats.bad_lines + feed.rejected;
	if (bad) {
		unsigned long first = stats.first_bad_line;
		if (!first || (feed.first_rejected && feed.first_rejected < first))
			first = feed.first_rejected;
		cli_warn("%s: ignored %lu line%s with invalid format (first at line %lu)", name, bad,
			 bad == 1 ? "" : "s", first);
	}
	return 0;
}

static int run(int argc, char **argv)
{
	struct flame_options o;
	flame_options_init(&o);
	const char *output = NULL;
	double v;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:q", long_options, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'q': cli_quiet = true; break;
		case OPT_TITLE: o.title = optarg; break;
		case OPT_SUBTITLE: o.subtitle = optarg; break;
		case OPT_COUNTNAME: o.countname = optarg; break;
		case OPT_NAMETYPE: o.nametype = optarg; break;
		case OPT_FONTTYPE: o.fonttype = optarg; break;
		case OPT_NOTES: o.notes = optarg; break;
		case OPT_HASH: o.hash = true; break;
		case OPT_REVERSE: o.reverse = true; break;
		case OPT_INVERTED: o.inverted = true; break;
		case OPT_FLAMECHART: o.flamechart = true; break;
		case OPT_NEGATE: o.negate = true; break;
		case OPT_WIDTH:
			if (parse_number(optarg, 1, 1e6, &v) || v != floor(v))
				return cli_usage_error(&cmd_flame, "--width wants a whole number of pixels, not '%s'", optarg);
			o.width = (int)v;
			break;
		case OPT_HEIGHT:
			if (parse_number(optarg, 1, 1e4, &v) || v != floor(v))
				return cli_usage_error(&cmd_flame, "--height wants a whole number of pixels, not '%s'", optarg);
			o.frame_height = (int)v;
			break;
		case OPT_FONTSIZE:
			if (parse_number(optarg, 0.1, 1e4, &v))
				return cli_usage_error(&cmd_flame, "bad --fontsize '%s'", optarg);
			o.fontsize = v;
			break;
		case OPT_FONTWIDTH:
			if (parse_number(optarg, 0.01, 100, &v))
				return cli_usage_error(&cmd_flame, "bad --fontwidth '%s'", optarg);
			o.fontwidth = v;
			break;
		case OPT_FACTOR:
			if (parse_number(optarg, -1e300, 1e300, &v) || v == 0)
				return cli_usage_error(&cmd_flame, "bad --factor '%s'", optarg);
			o.factor = v;
			break;
		case OPT_MINWIDTH:
			if (flame_parse_minwidth(&o, optarg))
				return cli_usage_error(&cmd_flame, "--minwidth wants pixels or a percentage like 0.1%%, not '%s'", optarg);
			if (o.minwidth == 0)
				o.minwidth = -1; /* 0 means draw everything here */
			break;
		case OPT_COLORS: {
			int k = palette_parse(optarg);
			if (k < 0)
				return cli_usage_error(&cmd_flame, "unknown palette '%s' (hot, mem, io, wakeup, chain, java, js, perl, red, green, blue, aqua, yellow, purple, orange)", optarg);
			o.colors = k;
			break;
		}
		case ':':
			return cli_usage_error(&cmd_flame, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error(&cmd_flame, "unknown option '%s'", argv[optind - 1]);
		}
	}

	struct flame *f = flame_new(&o);
	int rc = EXIT_OK;
	if (optind >= argc) {
		rc = feed_input(NULL, f);
	} else {
		for (int i = optind; i < argc && rc == EXIT_OK; i++)
			rc = feed_input(argv[i], f);
	}
	if (rc != EXIT_OK) {
		flame_free(f);
		return rc;
	}

	struct outfile out;
	if (outfile_open(&out, output)) {
		flame_free(f);
		return EXIT_FAIL;
	}
	int wrc = flame_write_svg(f, out.fp);
	flame_free(f);
	/* the error SVG is output too, so keep it; the exit status says 1.
	 * outfile_close reports write errors itself. */
	rc = outfile_close(&out, true);
	if (rc != EXIT_OK)
		return rc;
	if (wrc < 0 && wrc != KILN_ERR_EMPTY)
		return cli_error("cannot write the flame graph: %s", kiln_strerror(wrc));
	if (wrc == KILN_ERR_EMPTY)
		return cli_error("no valid input: no stacks with a count above zero");
	return EXIT_OK;
}

const struct command cmd_flame = {"flame", run, "any profile (folded, perf script, pprof, perf.data) to an interactive flamegraph SVG",
				  usage_text};
