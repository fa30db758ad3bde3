/* cmd-diff: kiln diff A B, differential folded stacks (difffolded.pl and
 * inferno-diff-folded compatible), a differential flamegraph, or a table of
 * the functions whose self share changed most.
 * Invariant: each input becomes one foldtab through load_input(); every
 * output is derived from the two tables in sorted stack order. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/linereader.h"
#include "base/strbuf.h"
#include "cli/cli.h"
#include "cli/input.h"
#include "format/folded.h"
#include "model/folddiff.h"
#include "model/foldtab.h"
#include "base/xalloc.h"
#include "format/runsummary.h"
#include "render/diffhtml.h"
#include "render/flame.h"
#include "render/htmlpage.h"
#include "render/humanize.h"
#include "render/runcompare.h"

static const char usage_text[] =
	"usage: kiln diff [OPTIONS] BEFORE AFTER\n"
	"       kiln diff [-o OUTDIR] [--top N] DIR_BEFORE DIR_AFTER\n"
	"\n"
	"Compare two profiles given as folded stacks (\"frame;frame;leaf COUNT\" lines,\n"
	"as written by kiln collapse, stackcollapse-*.pl or inferno-collapse-*).\n"
	"BEFORE or AFTER may be '-' for standard input (not both).\n"
	"\n"
	"By default prints one line per stack found in either input,\n"
	"  stack COUNT_BEFORE COUNT_AFTER\n"
	"sorted by stack, the format of difffolded.pl and inferno-diff-folded, which\n"
	"flamegraph.pl and kiln flame draw as a differential flamegraph.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE  write to FILE instead of standard output; FILE is\n"
	"                     replaced only when everything was written\n"
	"  -n, --normalize    scale BEFORE's counts so its total matches AFTER's\n"
	"                     (each count becomes trunc(count * total_after /\n"
	"                     total_before)), so a change in load alone is not\n"
	"                     drawn as growth or shrinkage\n"
	"  -s, --strip-hex    replace hex numbers such as 0x7f3a12 with 0x... before\n"
	"                     matching stacks, so addresses that moved still match\n"
	"      --svg          write a differential flamegraph SVG instead: frames\n"
	"                     that grew are red, frames that shrank are blue\n"
	"      --title TEXT   the flamegraph's title (with --svg; default\n"
	"                     \"Differential Flame Graph\")\n"
	"      --subtitle TEXT, --width PIXELS, --minwidth N[%]\n"
	"                     as for kiln flame (with --svg)\n"
	"      --negate       swap red and blue (with --svg); with the inputs\n"
	"                     swapped too, this draws what shrank at its old width\n"
	"      --top N        print a table of the N functions whose self share\n"
	"                     (share of samples as the leaf frame) changed most:\n"
	"                     self % before, self % after, change in points, sorted\n"
	"                     by the size of the change, then by name; 0 = all\n"
	"      --json         with --top, print the table as JSON\n"
	"  -q, --quiet        no warnings\n"
	"  -h, --help         show this help\n"
	"\n"
	"Two results folders (as kiln run writes them, with summary.json):\n"
	"prints their figures side by side (duration, CPU time, heap peak, leaks,\n"
	"peak RSS, allocation rate...: before, after, change, relative change) and\n"
	"the --top N (default 20; 0 = all) functions whose self share changed most\n"
	"between their CPU profiles; writes OUTDIR/diff.svg (the differential\n"
	"flamegraph) and OUTDIR/diff.html (all of it on one self-contained page).\n"
	"OUTDIR (-o) defaults to diff-BEFORE-vs-AFTER next to DIR_AFTER. -n, -s and\n"
	"the flamegraph options apply; --svg and --json do not.\n"
	"\n"
	"Counts are integers: a fractional count is truncated, as\n"
	"inferno-diff-folded does, with a warning. Lines that are not folded stacks\n"
	"are skipped with a warning naming the file and the first such line.\n"
	"\n"
	"Examples:\n"
	"  kiln diff -n before.folded after.folded | kiln flame > diff.svg\n"
	"  kiln diff --svg --title 'after vs before' before.folded after.folded -o d.svg\n"
	"  kiln diff --top 20 before.folded after.folded\n"
	"  kiln diff results/server-old results/server-new   # writes results/diff-server-old-vs-server-new/\n"
	"\n"
	"Exit status: 0 success, 1 failure (unreadable input, write error), 2 usage.\n";

const struct command cmd_diff;

struct load_stats {
	struct folded_stats folded;
	unsigned long fractional;       /* lines whose count had a fraction */
	unsigned long first_fractional; /* 1-based line of the first, or 0 */
};

struct load_ctx {
	struct foldtab *t;
	const struct folddiff_options *opt;
	struct strbuf scratch;
	const struct folded_stats *fs; /* lines and bytes read so far */
	struct load_stats *st;
	struct progress prog;
	unsigned long long size;
	unsigned long seen;
};

static int is_count_char(char c)
{
	return (c >= '0' && c <= '9') || c == '.';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static uint64_t truncate_count(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)v;
}

static int add_line(void *vctx, const struct folded_line *fl)
{
	struct load_ctx *c = vctx;
	size_t len = fl->len;
	double count = fl->count;
	if (fl->ncounts == 2) {
		/* Both reference tools take only the last number as the count;
		 * "stack 3 12" is the stack "stack 3" with 12 samples. The first
		 * count follows the stack inside the same line, so extend over it. */
		while (is_blank(fl->stack[len]))
			len++;
		while (is_count_char(fl->stack[len]))
			len++;
		count = fl->count2;
	}
	if (count != floor(count)) {
		if (!c->st->fractional++)
			c->st->first_fractional = c->fs->lines;
	}
	folddiff_add(c->t, fl->stack, len, truncate_count(count), c->opt, &c->scratch);
	if (!(++c->seen & 0xffff))
		progress_update(&c->prog, c->fs->bytes, c->size);
	return 0;
}

/* Reads the profile at path ("-" is stdin) into out, which the caller has
 * initialised. Reads folded stacks; this is the one place to detect and read
 * other formats (pprof), so every output below stays format-agnostic.
 * Prints its own errors and warnings; returns EXIT_OK or EXIT_FAIL. */
static int load_input(const char *path, struct foldtab *out, const struct folddiff_options *opt)
{
	const char *name = cli_input_name(path);
	struct input in;
	if (input_open(&in, path))
		return EXIT_FAIL;
	struct stat sb;
	struct load_stats st = {0};
	struct load_ctx c = {.t = out, .opt = opt, .fs = &st.folded, .st = &st};
	if (fstat(in.fd, &sb) == 0 && S_ISREG(sb.st_mode))
		c.size = (unsigned long long)sb.st_size;
	progress_init(&c.prog, name);
	int rc = input_stacks_from(&in, add_line, &c, &st.folded);
	progress_done(&c.prog);
	strbuf_release(&c.scratch);
	input_close(&in);
	if (rc)
		return rc;
	if (st.folded.bad_lines)
		cli_warn("%s: skipped %lu line%s that %s not folded stacks (first: line %lu)", name,
			 st.folded.bad_lines, st.folded.bad_lines == 1 ? "" : "s",
			 st.folded.bad_lines == 1 ? "is" : "are", st.folded.first_bad_line);
	if (st.fractional)
		cli_warn("%s: truncated %lu fractional count%s to integers (first: line %lu)", name,
			 st.fractional, st.fractional == 1 ? "" : "s", st.first_fractional);
	return EXIT_OK;
}

static int write_top_text(const struct folddiff_row *rows, size_t n, FILE *out)
{
	fprintf(out, "%9s %9s %9s  %s\n", "BEFORE%", "AFTER%", "DELTA", "FUNCTION");
	for (size_t i = 0; i < n; i++) {
		const struct folddiff_row *r = &rows[i];
		char d[32];
		snprintf(d, sizeof(d), "%+.2f", r->delta);
		if (!strcmp(d, "-0.00")) /* a tiny shrink rounds to no change */
			d[0] = '+';
		fprintf(out, "%9.2f %9.2f %9s  ", r->pct_a, r->pct_b, d);
		fwrite(r->name, 1, r->len, out);
		fputc('\n', out);
	}
	return 0;
}

static void json_number(struct strbuf *sb, double v)
{
	/* 6 decimals is far below any visible change and keeps output stable */
	if (fabs(v) < 5e-7)
		v = 0.0;
	strbuf_addf(sb, "%.6f", v);
}

static int write_top_json(const struct folddiff_top *t, FILE *out)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "{\"total_before\":%llu,\"total_after\":%llu,\"functions\":[",
		    (unsigned long long)t->total_a, (unsigned long long)t->total_b);
	for (size_t i = 0; i < t->n; i++) {
		const struct folddiff_row *r = &t->rows[i];
		strbuf_adds(&sb, i ? ",\n  {\"function\":\"" : "\n  {\"function\":\"");
		strbuf_add_json(&sb, r->name, r->len);
		strbuf_addf(&sb, "\",\"self_before\":%llu,\"self_after\":%llu,\"pct_before\":",
			    (unsigned long long)r->self_a, (unsigned long long)r->self_b);
		json_number(&sb, r->pct_a);
		strbuf_adds(&sb, ",\"pct_after\":");
		json_number(&sb, r->pct_b);
		strbuf_adds(&sb, ",\"delta\":");
		json_number(&sb, r->delta);
		strbuf_addch(&sb, '}');
	}
	strbuf_adds(&sb, t->n ? "\n]}\n" : "]}\n");
	fwrite(sb.buf, 1, sb.len, out);
	strbuf_release(&sb);
	return 0;
}

static int add_flame(void *vctx, const char *stack, size_t len, uint64_t ca, uint64_t cb)
{
	/* flamegraph.pl sizes differential frames by the second count (after)
	 * and colours them by the change */
	return flame_add(vctx, stack, len, (double)ca, (double)cb, 2);
}

/* Draws the differential flamegraph. Returns 0, KILN_ERR_EMPTY (the
 * "no valid input" SVG was written), or another negative code. */
static int write_svg(const struct foldtab *a, const struct foldtab *b,
		     const struct folddiff_options *opt, const struct flame_options *fo, FILE *out)
{
	struct flame *f = flame_new(fo);
	int rc = folddiff_each(a, b, opt, add_flame, f);
	if (!rc)
		rc = flame_write_svg(f, out);
	flame_free(f);
	return rc;
}

/* ---- two results folders (kiln run's): summaries, profiles, diff.html ---- */

static bool is_dir(const char *path)
{
	struct stat st;
	return strcmp(path, "-") && !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int read_summary(const char *dir, struct runsummary *s)
{
	struct diag d = {0};
	int rc = runsummary_read(dir, s, &d);
	if (rc == -ENOENT)
		return cli_error("diff: %s: not a results folder (no %s)", dir, RUNSUMMARY_FILE);
	if (rc)
		return cli_error("diff: %s/%s: %s", dir, RUNSUMMARY_FILE, d.msg[0] ? d.msg : kiln_strerror(rc));
	return EXIT_OK;
}

/* DIR/NAME of a run's CPU profile, or NULL (with a warning saying why)
 * when the run has none to compare. Free the result. */
static char *profile_path(const char *dir, const struct runsummary *s)
{
	if (!s->has_cpu || !s->cpu.profile || !*s->cpu.profile) {
		cli_warn("%s: the run has no CPU profile", dir);
		return NULL;
	}
	if (strchr(s->cpu.profile, '/')) {
		cli_warn("%s: the summary's CPU profile '%s' is not a file of the folder", dir, s->cpu.profile);
		return NULL;
	}
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", dir, s->cpu.profile);
	if (access(p.buf, R_OK)) {
		cli_warn("%s: %s", p.buf, strerror(errno));
		strbuf_release(&p);
		return NULL;
	}
	return p.buf;
}

/* The default output folder: diff-<A>-vs-<B> next to B. */
static void default_outdir(const char *a, const char *b, struct strbuf *out)
{
	char *ca = xstrdup(a), *cb = xstrdup(b), *cb2 = xstrdup(b);
	strbuf_addf(out, "%s/diff-%s-vs-%s", dirname(cb), basename(ca), basename(cb2));
	free(ca);
	free(cb);
	free(cb2);
}

static void print_metrics(const struct runcompare_row *rows, size_t n, FILE *out)
{
	fprintf(out, "%-18s %14s %14s %14s %10s\n", "FIGURE", "BEFORE", "AFTER", "CHANGE", "RELATIVE");
	for (size_t i = 0; i < n; i++) {
		const struct runcompare_row *r = &rows[i];
		char a[HUMANIZE_MAX], b[HUMANIZE_MAX], d[HUMANIZE_MAX], c[HUMANIZE_MAX];
		fprintf(out, "%-18s %14s %14s %14s %10s\n", r->what, r->has_a ? runcompare_value(r, r->a, a, sizeof(a)) : "-",
			r->has_b ? runcompare_value(r, r->b, b, sizeof(b)) : "-", runcompare_delta(r, d, sizeof(d)),
			runcompare_change(r, c, sizeof(c)));
	}
}

/* kiln diff DIR_A DIR_B: prints the figures and the share table, writes
 * OUTDIR/diff.svg and OUTDIR/diff.html. */
static int diff_folders(const char *dir_a, const char *dir_b, const char *outdir, size_t top_n,
			const struct folddiff_options *opt, const struct flame_options *fo)
{
	struct runsummary sa = {0}, sb = {0};
	struct foldtab ta, tb;
	struct folddiff_top top = {0};
	struct folddiff_row *fallback = NULL;
	struct strbuf out = STRBUF_INIT, svg = STRBUF_INIT, page = STRBUF_INIT;
	char *pa = NULL, *pb = NULL;
	foldtab_init(&ta);
	foldtab_init(&tb);
	struct diffhtml in = {.label_a = dir_a, .label_b = dir_b, .a = &sa, .b = &sb};

	int rc = read_summary(dir_a, &sa);
	if (rc == EXIT_OK)
		rc = read_summary(dir_b, &sb);
	if (rc)
		goto done;
	pa = profile_path(dir_a, &sa);
	pb = profile_path(dir_b, &sb);
	if (pa && pb) {
		rc = load_input(pa, &ta, opt);
		if (rc == EXIT_OK)
			rc = load_input(pb, &tb, opt);
		if (rc)
			goto done;
		folddiff_top(&ta, &tb, 0, &top);
		in.shares = top.rows;
		in.nshares = top.n;
		in.shares_from_profiles = true;
		char *buf = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&buf, &len);
		int src = mem ? write_svg(&ta, &tb, opt, fo, mem) : -errno;
		if (mem && fclose(mem) && !src)
			src = -EIO;
		if (!src) {
			strbuf_add(&svg, buf, len);
			in.svg = svg.buf;
			in.svg_len = svg.len;
		} else {
			in.svg_note = src == KILN_ERR_EMPTY ? "neither CPU profile has samples." : kiln_strerror(src);
		}
		free(buf);
	} else {
		in.nshares = runcompare_shares(&sa, &sb, &fallback);
		in.shares = fallback;
		in.svg_note = "a CPU profile is missing, so there is no differential flamegraph.";
		cli_warn("diff: comparing the summaries' top functions instead of the profiles");
	}

	/* the page shows the rows the text does */
	if (top_n && top_n < in.nshares)
		in.nshares = top_n;
	if (outdir)
		strbuf_adds(&out, outdir);
	else
		default_outdir(dir_a, dir_b, &out);
	if (mkdir(out.buf, 0777) && errno != EEXIST) {
		rc = cli_error("diff: cannot create %s: %s", out.buf, strerror(errno));
		goto done;
	}
	int wrc = in.svg ? htmlpage_write_file(out.buf, "diff.svg", &svg) : 0;
	if (!wrc) {
		diffhtml_build(&in, &page);
		wrc = htmlpage_write_file(out.buf, DIFFHTML_FILE, &page);
	}
	if (wrc) {
		rc = cli_error("diff: cannot write into %s: %s", out.buf, kiln_strerror(wrc));
		goto done;
	}

	struct runcompare_row rows[RUNCOMPARE_MAX];
	size_t n = runcompare_metrics(&sa, &sb, rows);
	printf("kiln diff: before %s, after %s\n\n", dir_a, dir_b);
	print_metrics(rows, n, stdout);
	printf("\nself share by function (%s):\n", in.shares_from_profiles ? "CPU profiles" : "summaries' top lists");
	write_top_text(in.shares, in.nshares, stdout);
	if (fflush(stdout) || ferror(stdout))
		rc = cli_error("write error on standard output");
	else if (!cli_quiet)
		fprintf(stderr, "kiln diff: wrote %s/%s%s%s\n", out.buf, in.svg ? "diff.svg and " : "",
			in.svg ? out.buf : "", in.svg ? "/" DIFFHTML_FILE : DIFFHTML_FILE);
done:
	free(pa);
	free(pb);
	free(fallback);
	folddiff_top_release(&top);
	foldtab_release(&ta);
	foldtab_release(&tb);
	runsummary_release(&sa);
	runsummary_release(&sb);
	strbuf_release(&out);
	strbuf_release(&svg);
	strbuf_release(&page);
	return rc;
}

enum { OPT_SVG = 256, OPT_TITLE, OPT_SUBTITLE, OPT_WIDTH, OPT_MINWIDTH, OPT_NEGATE, OPT_TOP, OPT_JSON };

static const struct option long_options[] = {
	{"output", required_argument, NULL, 'o'},
	{"normalize", no_argument, NULL, 'n'},
	{"strip-hex", no_argument, NULL, 's'},
	{"svg", no_argument, NULL, OPT_SVG},
	{"title", required_argument, NULL, OPT_TITLE},
	{"subtitle", required_argument, NULL, OPT_SUBTITLE},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"minwidth", required_argument, NULL, OPT_MINWIDTH},
	{"negate", no_argument, NULL, OPT_NEGATE},
	{"top", required_argument, NULL, OPT_TOP},
	{"json", no_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, 'q'},
	{NULL, 0, NULL, 0},
};

static int parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > SIZE_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int run(int argc, char **argv)
{
	struct folddiff_options opt;
	struct flame_options fo;
	const char *output = NULL;
	bool svg = false, json = false, top = false, svg_only = false;
	size_t top_n = 0, width;
	folddiff_options_init(&opt);
	flame_options_init(&fo);
	fo.title = "Differential Flame Graph";

	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":o:nsq", long_options, NULL)) != -1) {
		switch (ch) {
		case 'o': output = optarg; break;
		case 'n': opt.normalize = true; break;
		case 's': opt.strip_hex = true; break;
		case 'q': cli_quiet = true; break;
		case OPT_SVG: svg = true; break;
		case OPT_TITLE: fo.title = optarg; svg_only = true; break;
		case OPT_SUBTITLE: fo.subtitle = optarg; svg_only = true; break;
		case OPT_NEGATE: fo.negate = true; svg_only = true; break;
		case OPT_WIDTH:
			if (parse_size(optarg, &width) || width == 0 || width > 1000000)
				return cli_usage_error(&cmd_diff, "--width wants a width in pixels, not '%s'", optarg);
			fo.width = (int)width;
			svg_only = true;
			break;
		case OPT_MINWIDTH:
			if (flame_parse_minwidth(&fo, optarg))
				return cli_usage_error(&cmd_diff, "--minwidth wants pixels or a percentage, not '%s'", optarg);
			svg_only = true;
			break;
		case OPT_JSON: json = true; break;
		case OPT_TOP:
			if (parse_size(optarg, &top_n))
				return cli_usage_error(&cmd_diff, "--top wants a number of functions, not '%s'", optarg);
			top = true;
			break;
		case ':':
			return cli_usage_error(&cmd_diff, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error(&cmd_diff, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(&cmd_diff, "expected two inputs, BEFORE and AFTER, got %d",
				       argc - optind);
	const char *path_a = argv[optind], *path_b = argv[optind + 1];
	if (!strcmp(path_a, "-") && !strcmp(path_b, "-"))
		return cli_usage_error(&cmd_diff, "only one input can be standard input");
	bool folder_a = is_dir(path_a), folder_b = is_dir(path_b);
	if (folder_a != folder_b)
		return cli_usage_error(&cmd_diff, "%s is a results folder but %s is not: give two folders or two profiles",
				       folder_a ? path_a : path_b, folder_a ? path_b : path_a);
	if (folder_a) {
		if (svg || json)
			return cli_usage_error(&cmd_diff, "with two results folders kiln diff writes diff.svg and diff.html "
							  "itself; --svg and --json are for profiles");
		return diff_folders(path_a, path_b, output, top ? top_n : 20, &opt, &fo);
	}
	if (svg && top)
		return cli_usage_error(&cmd_diff, "--svg and --top are different outputs; pick one");
	if (json && !top)
		return cli_usage_error(&cmd_diff, "--json goes with --top");
	if (svg_only && !svg)
		return cli_usage_error(&cmd_diff, "--title, --subtitle, --width, --minwidth and --negate go with --svg");

	struct foldtab a, b;
	foldtab_init(&a);
	foldtab_init(&b);
	int rc = load_input(path_a, &a, &opt);
	if (rc == EXIT_OK)
		rc = load_input(path_b, &b, &opt);
	struct outfile of;
	if (rc == EXIT_OK)
		rc = outfile_open(&of, output);
	if (rc == EXIT_OK) {
		int wrc;
		if (top) {
			struct folddiff_top t;
			folddiff_top(&a, &b, top_n, &t);
			wrc = json ? write_top_json(&t, of.fp) : write_top_text(t.rows, t.n, of.fp);
			folddiff_top_release(&t);
		} else if (svg) {
			wrc = write_svg(&a, &b, &opt, &fo, of.fp);
		} else {
			wrc = folddiff_write(&a, &b, &opt, of.fp);
		}
		/* a write error (full disk) leaves the stream's error flag set,
		 * which the close reports; any other failure discards the output */
		bool io = wrc == -EIO || wrc == -ENOSPC;
		bool keep = !wrc || io || wrc == KILN_ERR_EMPTY;
		rc = outfile_close(&of, keep);
		if (rc == EXIT_OK && wrc == KILN_ERR_EMPTY)
			rc = cli_error("diff: no samples in either input; wrote an empty flamegraph");
		else if (rc == EXIT_OK && io)
			rc = cli_error("write error on %s", output ? output : "standard output");
		else if (wrc && !io && wrc != KILN_ERR_EMPTY)
			rc = cli_error("diff: cannot draw the flamegraph: %s", kiln_strerror(wrc));
	}
	foldtab_release(&a);
	foldtab_release(&b);
	return rc;
}

const struct command cmd_diff = {"diff", run, "compare two profiles (or results folders): differential stacks, SVG, top changes",
				 usage_text};
