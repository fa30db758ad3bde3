/* cmd-heap: `kiln heap -- CMD` runs a command under the heap tracker
 * (libkiln-heap.so through LD_PRELOAD) and reports its allocations, peak,
 * leaks and heuristics; `kiln heap report TRACE` re-analyses a trace.
 * Invariant: the report goes to stderr only, never mixing with the
 * command's stdout; kiln exits with the command's own status unless
 * --error-exitcode applies. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analyze/heapleaks.h"
#include "analyze/heapprof.h"
#include "analyze/heapstats.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "render/humanize.h"
#include "cli/heap-leaks.h"
#include "cli/profile-files.h"
#include "format/heaptrace.h"

static const char usage[] =
	"usage: kiln heap [OPTIONS] -- COMMAND [ARGS...]\n"
	"       kiln heap report [OPTIONS] TRACE\n"
	"\n"
	"Runs COMMAND with kiln's heap tracker preloaded (libkiln-heap.so, next to\n"
	"the kiln binary), which records every allocation with its stack into a\n"
	"trace; then prints a report on standard error: totals, the peak heap and\n"
	"the stacks that held it, top allocation sites, temporary allocations, a\n"
	"size histogram, RSS against live heap, leaks, and heuristic hints.\n"
	"'report' analyses a trace written earlier.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE         the trace (default kiln-heap.PID.trace)\n"
	"  --pprof FILE              write a pprof heap profile (alloc_objects,\n"
	"                            alloc_space, inuse_objects, inuse_space)\n"
	"  --svg FILE                write the heap-over-time chart\n"
	"  --json FILE               write the analysis as JSON\n"
	"  --inuse-at peak|exit      what inuse_* means in the profile (default peak)\n"
	"  --leak-check=summary|full print the leak summary only, or every leak's stack\n"
	"  --leak-check=no           no exit-time leak scan (KILN_HEAP_LEAKCHECK=0)\n"
	"  --show-leak-kinds=LIST    with full: definite,indirect,possible,reachable or\n"
	"                            all (default definite,possible)\n"
	"  --error-exitcode=N        exit with N when leaks (definite or possible) are found\n"
	"  --suppressions FILE       leak suppressions (repeatable): valgrind memcheck's\n"
	"                            .supp format, or one rule a line (a function name or\n"
	"                            glob matched against every frame of a leak's stack)\n"
	"  --no-default-suppressions do not apply kiln's rules for the C runtime's blocks\n"
	"  --gen-suppressions=all    with full: a memcheck suppression after each record\n"
	"  --run-libc-freeres=no     do not free glibc's memory at exit (no other thread\n"
	"                            running: yes by default)\n"
	"  --run-cxx-freeres=no      do not free libstdc++'s emergency pool at exit\n"
	"  --follow-children         trace children too (KILN_HEAP_FOLLOW=1)\n"
	"  --mmap                    trace anonymous mmap/munmap too\n"
	"  --top N                   rows in each top table (default 10)\n"
	"  -q, --quiet               no report; only the leak summary when leaks are found\n"
	"\n"
	"Exit status: the command's (128+N when killed by signal N), or N from\n"
	"--error-exitcode; 1 when kiln itself fails, 2 on a usage error.\n";

enum {
	OPT_PPROF = 256, OPT_SVG, OPT_JSON, OPT_INUSE, OPT_LEAK_CHECK, OPT_SHOW_KINDS, OPT_ERROR_EXIT,
	OPT_SUPP, OPT_FOLLOW, OPT_MMAP, OPT_TOP, OPT_NO_DEFAULT_SUPP, OPT_GEN_SUPP, OPT_LIBC_FREERES,
	OPT_CXX_FREERES,
};

struct heapopts {
	const char *output, *pprof, *svg, *json;
	bool inuse_exit, follow, mmap, no_scan, no_libc_freeres, no_cxx_freeres;
	struct heapleak_opts leak;
	struct suppress *supp;
	int error_exitcode; /* -1: none */
	long top;
};

/* ---- formatting -------------------------------------------------------- */

static const char *human(uint64_t v, char *buf)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double d = (double)v;
	int i = 0;
	while (d >= 1024 && i < 4) {
		d /= 1024;
		i++;
	}
	snprintf(buf, 32, i ? "%.1f %s" : "%.0f %s", d, u[i]);
	return buf;
}

static const char *when(uint64_t us, char *buf)
{
	if (us >= 1000000)
		snprintf(buf, 32, "%.3f s", (double)us / 1e6);
	else
		snprintf(buf, 32, "%.3f ms", (double)us / 1e3);
	return buf;
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

/* "func (file:line) <- caller (file:line) <- ..." for up to depth frames */
static void site_text(struct strbuf *sb, struct heapsym *hs, const struct heapstats *h, uint64_t stack_id,
		      int depth)
{
	struct heapframe fr[8];
	size_t n = hs ? heapsym_stack(hs, h, stack_id, fr, (size_t)depth) : 0;
	if (n == 0) {
		strbuf_addf(sb, "stack %llu (no frames)", (unsigned long long)stack_id);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_adds(sb, " <- ");
		strbuf_adds(sb, fr[i].name);
		if (fr[i].file) {
			const char *b = strrchr(fr[i].file, '/');
			strbuf_addf(sb, " (%s:%d)", b ? b + 1 : fr[i].file, fr[i].line);
		}
	}
}

static void print_top(FILE *f, const char *title, struct heapsym *hs, const struct heapstats *h,
		      enum heapstats_key key, long top)
{
	size_t n;
	size_t *idx = heapstats_sorted(h, key, &n);
	if (n == 0) {
		free(idx);
		return;
	}
	char b1[32], b2[32];
	fprintf(f, "\n%s:\n", title);
	struct strbuf sb = STRBUF_INIT;
	for (size_t j = 0; j < n && (long)j < top; j++) {
		const struct heapsite *s = &h->sites[idx[j]];
		strbuf_reset(&sb);
		site_text(&sb, hs, h, s->stack_id, 3);
		switch (key) {
		case HEAPSTATS_BY_BYTES:
			fprintf(f, "  %14s bytes %5.1f%%  in %s allocations  %s\n", humanize_count(s->bytes, b1, sizeof(b1)),
				pct(s->bytes, h->alloc_bytes), humanize_count(s->allocs, b2, sizeof(b2)), strbuf_str(&sb));
			break;
		case HEAPSTATS_BY_COUNT:
			fprintf(f, "  %14s allocations %5.1f%%  of %s bytes  %s\n", humanize_count(s->allocs, b1, sizeof(b1)),
				pct(s->allocs, h->allocs), humanize_count(s->bytes, b2, sizeof(b2)), strbuf_str(&sb));
			break;
		case HEAPSTATS_BY_PEAK:
			fprintf(f, "  %14s bytes %5.1f%% of the peak  in %s blocks  %s\n", humanize_count(s->peak_bytes, b1, sizeof(b1)),
				pct(s->peak_bytes, h->peak_bytes), humanize_count(s->peak_count, b2, sizeof(b2)), strbuf_str(&sb));
			break;
		case HEAPSTATS_BY_TEMPORARY:
			fprintf(f, "  %14s temporary %5.1f%%  of %s allocations  %s\n", humanize_count(s->temporary, b1, sizeof(b1)),
				pct(s->temporary, s->allocs), humanize_count(s->allocs, b2, sizeof(b2)), strbuf_str(&sb));
			break;
		case HEAPSTATS_BY_LEAKED:
			break;
		}
	}
	strbuf_release(&sb);
	free(idx);
}

static void print_report(FILE *f, const struct heapopts *o, struct heapsym *hs, const struct heapstats *h,
			 const char *what)
{
	char b1[32], b2[32], b3[32], b4[32];
	uint64_t dur = h->have_end && h->end_time > h->last_time ? h->end_time : h->last_time;
	fprintf(f, "kiln heap: %s (pid %u)", what, h->header.pid);
	if (h->have_end) {
		if (h->end_how == HT_END_EXIT)
			fprintf(f, ": exited with status %llu", (unsigned long long)h->end_status);
		else if (h->end_how == HT_END_SIGNAL)
			fprintf(f, ": killed by signal %llu", (unsigned long long)h->end_status);
		else if (h->end_how == HT_END_EXEC)
			fputs(": called exec", f);
	}
	fprintf(f, " after %s\n", when(dur, b1));
	if (h->read.ends_early)
		fprintf(f, "kiln heap: warning: trace ends early at byte %llu (%s): the program died before its last flush\n",
			(unsigned long long)h->read.ends_at, h->read.why);
	if (h->header.sample_bytes)
		fprintf(f, "kiln heap: note: sampled, one sample per %u bytes on average\n", h->header.sample_bytes);
	double secs = (double)dur / 1e6;
	fprintf(f, "total:        %s allocations, %s bytes (%s)", humanize_count(h->allocs, b1, sizeof(b1)), humanize_count(h->alloc_bytes, b2, sizeof(b2)),
		human(h->alloc_bytes, b3));
	if (secs > 0)
		fprintf(f, ", %.0f allocations/s", (double)h->allocs / secs);
	fputc('\n', f);
	if (h->mmaps)
		fprintf(f, "              of which %s mmaps, %s bytes\n", humanize_count(h->mmaps, b1, sizeof(b1)), humanize_count(h->mmap_bytes, b2, sizeof(b2)));
	fprintf(f, "frees:        %s; temporary allocations: %s (%.1f%%)\n", humanize_count(h->frees, b1, sizeof(b1)),
		humanize_count(h->temporary, b2, sizeof(b2)), pct(h->temporary, h->allocs));
	fprintf(f, "peak heap:    %s bytes (%s) in %s blocks at %s\n", humanize_count(h->peak_bytes, b1, sizeof(b1)),
		human(h->peak_bytes, b2), humanize_count(h->peak_count, b3, sizeof(b3)), when(h->peak_time, b4));
	fprintf(f, "at exit:      %s bytes in %s blocks not freed\n", humanize_count(h->live_bytes, b1, sizeof(b1)),
		humanize_count(h->live_count, b2, sizeof(b2)));
	if (h->rss_samples)
		fprintf(f, "peak RSS:     %s at %s, live heap then %s (%.0f%% of RSS is not live heap)\n",
			human(h->rss_max, b1), when(h->rss_max_time, b2), human(h->live_at_rss_max, b3),
			100.0 - pct(h->live_at_rss_max, h->rss_max));
	if (h->double_frees || h->unknown_frees)
		fprintf(f, "bad frees:    %s double frees, %s frees of unknown pointers\n", humanize_count(h->double_frees, b1, sizeof(b1)),
			humanize_count(h->unknown_frees, b2, sizeof(b2)));
	if (o->top > 0) {
		fputs("\nallocation sizes:\n", f);
		for (int i = 0; i < HEAPSTATS_NBUCKETS; i++)
			fprintf(f, "  %-22s %12s allocations %5.1f%%  %16s bytes\n", heapstats_bucket_names[i],
				humanize_count(h->bucket_count[i], b1, sizeof(b1)), pct(h->bucket_count[i], h->allocs),
				humanize_count(h->bucket_bytes[i], b2, sizeof(b2)));
		fputs("  powers of two:", f);
		for (int i = 0; i < 65; i++)
			if (h->pow2_count[i])
				fprintf(f, " %s%s:%llu", i ? "<" : "", i ? human((uint64_t)1 << (i - 1) << 1, b1) : "0",
					(unsigned long long)h->pow2_count[i]);
		fputc('\n', f);
		print_top(f, "peak heap held by", hs, h, HEAPSTATS_BY_PEAK, o->top);
		print_top(f, "top allocation sites by bytes", hs, h, HEAPSTATS_BY_BYTES, o->top);
		print_top(f, "top allocation sites by count", hs, h, HEAPSTATS_BY_COUNT, o->top);
		print_top(f, "top sites of temporary allocations (freed with no other allocation in between on their thread)",
			  hs, h, HEAPSTATS_BY_TEMPORARY, o->top);
		size_t nf;
		struct heapfinding *fd = heapstats_findings(h, &nf);
		if (nf)
			fputs("\nheuristics (hints, not proof):\n", f);
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < nf; i++) {
			strbuf_reset(&sb);
			if (fd[i].site != SIZE_MAX)
				site_text(&sb, hs, h, h->sites[fd[i].site].stack_id, 2);
			switch (fd[i].kind) {
			case HEAPFIND_LOOP_LEAK:
				fprintf(f, "  loop leak? the same stack leaked %llu blocks (%s bytes): %s\n",
					(unsigned long long)fd[i].count, humanize_count(fd[i].bytes, b1, sizeof(b1)), strbuf_str(&sb));
				break;
			case HEAPFIND_EXP_GROWTH:
				fprintf(f, "  exponential growth? the live heap grew 1.8x or more in each quarter of the run, to %s\n",
					human(fd[i].bytes, b1));
				break;
			case HEAPFIND_FREQUENT_LARGE:
				fprintf(f, "  frequent large allocations: %llu over 1 MiB; reuse a buffer? %s\n",
					(unsigned long long)fd[i].count, strbuf_str(&sb));
				break;
			case HEAPFIND_POOL:
				fprintf(f, "  %s small allocations (%llu bytes on average); a pool or arena? %s\n",
					humanize_count(fd[i].count, b1, sizeof(b1)), (unsigned long long)(fd[i].bytes / fd[i].count),
					strbuf_str(&sb));
				break;
			case HEAPFIND_STREAM:
				fprintf(f, "  a huge allocation of %s; stream the data instead? %s\n", human(fd[i].bytes, b1),
					strbuf_str(&sb));
				break;
			}
		}
		strbuf_release(&sb);
		free(fd);
		fputc('\n', f);
	}
}

/* ---- outputs -------------------------------------------------------------- */

static int write_pprof(const struct heapopts *o, struct heapsym *hs, const struct heapstats *h)
{
	struct profile p;
	heapprof_build(h, hs, o->inuse_exit, &p);
	int rc = cli_write_pprof(&p, o->pprof);
	profile_release(&p);
	return rc;
}

static void json_site(struct strbuf *sb, struct heapsym *hs, const struct heapstats *h, const struct heapsite *s)
{
	strbuf_addf(sb,
		    "{\"allocations\":%llu,\"bytes\":%llu,\"temporary\":%llu,\"peak_bytes\":%llu,\"peak_blocks\":%llu,"
		    "\"exit_bytes\":%llu,\"exit_blocks\":%llu,\"stack\":[",
		    (unsigned long long)s->allocs, (unsigned long long)s->bytes, (unsigned long long)s->temporary,
		    (unsigned long long)s->peak_bytes, (unsigned long long)s->peak_count,
		    (unsigned long long)s->live_bytes, (unsigned long long)s->live_count);
	struct heapframe fr[64];
	size_t n = hs ? heapsym_stack(hs, h, s->stack_id, fr, 64) : 0;
	for (size_t i = 0; i < n; i++) {
		strbuf_adds(sb, i ? ",\"" : "\"");
		strbuf_add_json(sb, fr[i].name, strlen(fr[i].name));
		strbuf_addch(sb, '"');
	}
	strbuf_adds(sb, "]}");
}

static int write_json(const struct heapopts *o, struct heapsym *hs, const struct heapstats *h,
		      const struct heapleaks *lt)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb,
		    "{\"pid\":%u,\"allocations\":%llu,\"bytes\":%llu,\"frees\":%llu,\"temporary\":%llu,"
		    "\"peak\":{\"bytes\":%llu,\"blocks\":%llu,\"time_us\":%llu},"
		    "\"exit\":{\"bytes\":%llu,\"blocks\":%llu},\"rss_max\":%llu,\"ends_early\":%s,",
		    h->header.pid, (unsigned long long)h->allocs, (unsigned long long)h->alloc_bytes,
		    (unsigned long long)h->frees, (unsigned long long)h->temporary, (unsigned long long)h->peak_bytes,
		    (unsigned long long)h->peak_count, (unsigned long long)h->peak_time,
		    (unsigned long long)h->live_bytes, (unsigned long long)h->live_count,
		    (unsigned long long)h->rss_max, h->read.ends_early ? "true" : "false");
	heapleak_json(&sb, o->supp, h, lt);
	strbuf_addch(&sb, ',');
	strbuf_adds(&sb, "\"sizes\":{");
	for (int i = 0; i < HEAPSTATS_NBUCKETS; i++) {
		static const char *const nm[] = {"tiny", "small", "medium", "large", "huge"};
		strbuf_addf(&sb, "%s\"%s\":[%llu,%llu]", i ? "," : "", nm[i], (unsigned long long)h->bucket_count[i],
			    (unsigned long long)h->bucket_bytes[i]);
	}
	strbuf_adds(&sb, "},\"series\":[");
	for (size_t i = 0; i < h->nseries; i++)
		strbuf_addf(&sb, "%s[%llu,%llu,%llu]", i ? "," : "", (unsigned long long)h->series[i].time,
			    (unsigned long long)h->series[i].live, (unsigned long long)h->series[i].rss);
	static const char *const keys[] = {"by_bytes", "by_count", "by_peak", "by_temporary"};
	for (int k = 0; k < 4; k++) {
		size_t n;
		size_t *idx = heapstats_sorted(h, (enum heapstats_key)k, &n);
		strbuf_addf(&sb, "],\"%s\":[", keys[k]);
		for (size_t j = 0; j < n && (long)j < (o->top > 0 ? o->top : 10); j++) {
			if (j)
				strbuf_addch(&sb, ',');
			json_site(&sb, hs, h, &h->sites[idx[j]]);
		}
		free(idx);
	}
	strbuf_adds(&sb, "]}\n");
	struct outfile out;
	int rc = outfile_open(&out, o->json);
	if (!rc) {
		fwrite(sb.buf, 1, sb.len, out.fp);
		rc = outfile_close(&out, true);
	}
	strbuf_release(&sb);
	return rc;
}

/* Analyses trace and writes everything asked for. *leaks_found is set when
 * definite or possible leaks (not suppressed) exist. */
static int analyse(const struct heapopts *o, const char *trace, const char *what, bool *leaks_found)
{
	struct heapstats h;
	struct diag d = {0};
	int err = heapstats_analyze_file(&h, trace, &d);
	if (err) {
		heapstats_release(&h);
		return cli_error("%s: %s", trace, d.msg[0] ? d.msg : kiln_strerror(err));
	}
	int serr = 0;
	struct heapsym *hs = heapsym_new(&h, &serr);
	if (!hs)
		cli_warn("cannot start the symbolizer: %s", kiln_strerror(serr));
	struct heapsym *raw = NULL; /* mangled names, for memcheck's rules: made when needed */
	struct heapleaks lt;
	heapleaks_compute(&lt, &h, o->supp, hs, &raw);
	*leaks_found = lt.count[HT_LEAK_DEFINITELY] || lt.count[HT_LEAK_POSSIBLY];
	if (!cli_quiet)
		print_report(stderr, o, hs, &h, what);
	if (!cli_quiet || *leaks_found)
		heapleak_print(stderr, &o->leak, hs, &raw, &h, &lt);
	int rc = EXIT_OK;
	if (o->pprof && write_pprof(o, hs, &h))
		rc = EXIT_FAIL;
	if (o->svg && cli_write_heapchart(&h, o->svg, what))
		rc = EXIT_FAIL;
	if (o->json && write_json(o, hs, &h, &lt))
		rc = EXIT_FAIL;
	heapleaks_release(&lt);
	heapsym_free(raw);
	heapsym_free(hs);
	heapstats_release(&h);
	return rc;
}

/* ---- running the command ------------------------------------------------ */

/* What the start and end of a trace say, for following exec. */
struct trace_ends {
	uint32_t pid, flags;
	uint64_t end_how;
	bool have_header;
};

static int ends_header(void *ctx, const struct heaptrace_header *h)
{
	struct trace_ends *e = ctx;
	e->pid = h->pid;
	e->flags = h->flags;
	e->have_header = true;
	return 0;
}

static int ends_end(void *ctx, uint64_t t, uint64_t how, uint64_t status)
{
	(void)t;
	(void)status;
	((struct trace_ends *)ctx)->end_how = how;
	return 0;
}

static bool read_ends(const char *path, struct trace_ends *e)
{
	memset(e, 0, sizeof(*e));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct heaptrace_sink sink = {.ctx = e, .header = ends_header, .end = ends_end};
	int err = heaptrace_read_fd(fd, &sink, NULL, NULL);
	close(fd);
	return !err && e->have_header;
}

/* A command that execs (a wrapper script, env, a shell) leaves one trace per
 * image: the tracker names the next PATH.1, PATH.2, ... and ends each with
 * HT_END_EXEC. The program worth reporting is the last image of the chain:
 * a trace of the same pid that was not a followed child. */
static void follow_exec_chain(struct strbuf *path)
{
	struct trace_ends e;
	if (!read_ends(path->buf, &e))
		return;
	struct strbuf base = STRBUF_INIT;
	strbuf_adds(&base, path->buf);
	for (int n = 1; n <= 64 && e.end_how == HT_END_EXEC; n++) {
		struct strbuf next = STRBUF_INIT;
		strbuf_addf(&next, "%s.%d", base.buf, n);
		struct trace_ends ne;
		if (access(next.buf, R_OK) != 0) {
			strbuf_release(&next);
			break;
		}
		if (read_ends(next.buf, &ne) && ne.pid == e.pid && !(ne.flags & HEAPTRACE_F_FOLLOWED)) {
			strbuf_reset(path);
			strbuf_adds(path, next.buf);
			e = ne;
		}
		strbuf_release(&next);
	}
	strbuf_release(&base);
}

static int run_command(const struct heapopts *o, char **cmd, int *exit_code, char **trace_out)
{
	char *lib = cli_sibling_path("libkiln-heap.so");
	if (!lib || access(lib, R_OK) != 0) {
		int rc = cli_error("cannot find the heap tracker '%s' (it is built next to the kiln binary)",
				   lib ? lib : "libkiln-heap.so");
		free(lib);
		return rc;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		free(lib);
		return cli_error("pipe: %s", strerror(errno));
	}
	pid_t pid = fork();
	if (pid < 0) {
		free(lib);
		return cli_error("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(pfd[0]);
		char path[PATH_MAX + 64];
		if (o->output)
			snprintf(path, sizeof(path), "%s", o->output);
		else
			snprintf(path, sizeof(path), "kiln-heap.%ld.trace", (long)getpid());
		const char *old = getenv("LD_PRELOAD");
		struct strbuf pre = STRBUF_INIT;
		strbuf_adds(&pre, lib);
		if (old && *old)
			strbuf_addf(&pre, ":%s", old);
		setenv("LD_PRELOAD", strbuf_str(&pre), 1);
		/* traces left by an earlier run would make the tracker write
		 * the next free PATH.N and this report read stale ones: PATH
		 * and PATH.1, PATH.2, ... (exec chains, followed children) are
		 * this run's names */
		unlink(path);
		for (int n = 1; n < 10000; n++) {
			char older[PATH_MAX + 80];
			snprintf(older, sizeof(older), "%s.%d", path, n);
			if (unlink(older) != 0 && errno == ENOENT)
				break;
		}
		setenv("KILN_HEAP_TRACE", path, 1);
		if (o->follow)
			setenv("KILN_HEAP_FOLLOW", "1", 1);
		if (o->mmap)
			setenv("KILN_HEAP_MMAP", "1", 1);
		setenv("KILN_HEAP_LEAKCHECK", o->no_scan ? "0" : "1", 1);
		if (o->no_libc_freeres)
			setenv("KILN_HEAP_FREERES", "0", 1);
		if (o->no_cxx_freeres)
			setenv("KILN_HEAP_CXX_FREERES", "0", 1);
		execvp(cmd[0], cmd);
		int e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pfd[1]);
	int e = 0;
	ssize_t got;
	do
		got = read(pfd[0], &e, sizeof(e));
	while (got < 0 && errno == EINTR);
	close(pfd[0]);
	/* like time(1): the command gets Ctrl-C, kiln stays to report */
	struct sigaction ign = {0}, old_int, old_quit;
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	free(lib);
	if (got == (ssize_t)sizeof(e))
		return cli_error("cannot run '%s': %s", cmd[0], strerror(e));
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	if (WIFSIGNALED(status) && !cli_quiet)
		fprintf(stderr, "kiln heap: the command was killed by signal %d\n", WTERMSIG(status));
	struct strbuf tp = STRBUF_INIT;
	if (o->output)
		strbuf_adds(&tp, o->output);
	else
		strbuf_addf(&tp, "kiln-heap.%ld.trace", (long)pid);
	follow_exec_chain(&tp);
	*trace_out = tp.buf;
	return EXIT_OK;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"pprof", required_argument, NULL, OPT_PPROF},
		{"svg", required_argument, NULL, OPT_SVG},
		{"json", required_argument, NULL, OPT_JSON},
		{"inuse-at", required_argument, NULL, OPT_INUSE},
		{"leak-check", required_argument, NULL, OPT_LEAK_CHECK},
		{"show-leak-kinds", required_argument, NULL, OPT_SHOW_KINDS},
		{"error-exitcode", required_argument, NULL, OPT_ERROR_EXIT},
		{"suppressions", required_argument, NULL, OPT_SUPP},
		{"no-default-suppressions", no_argument, NULL, OPT_NO_DEFAULT_SUPP},
		{"gen-suppressions", required_argument, NULL, OPT_GEN_SUPP},
		{"run-libc-freeres", required_argument, NULL, OPT_LIBC_FREERES},
		{"run-cxx-freeres", required_argument, NULL, OPT_CXX_FREERES},
		{"follow-children", no_argument, NULL, OPT_FOLLOW},
		{"mmap", no_argument, NULL, OPT_MMAP},
		{"top", required_argument, NULL, OPT_TOP},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	struct heapopts o = {.leak.kinds = 1u << HT_LEAK_DEFINITELY | 1u << HT_LEAK_POSSIBLY, .error_exitcode = -1,
			     .top = 10};
	const char *supp_files[64];
	o.leak.files = supp_files;
	int opt;
	optind = 1;
	bool report = argc > 1 && !strcmp(argv[1], "report");
	if (report) {
		argc--;
		argv++;
	}
	while ((opt = getopt_long(argc, argv, "+o:q", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'o': o.output = optarg; break;
		case OPT_PPROF: o.pprof = optarg; break;
		case OPT_SVG: o.svg = optarg; break;
		case OPT_JSON: o.json = optarg; break;
		case OPT_INUSE:
			if (!strcmp(optarg, "peak"))
				o.inuse_exit = false;
			else if (!strcmp(optarg, "exit"))
				o.inuse_exit = true;
			else
				return cli_usage_error(&cmd_heap, "--inuse-at takes peak or exit");
			break;
		case OPT_LEAK_CHECK:
			if (!strcmp(optarg, "summary"))
				o.leak.full = false;
			else if (!strcmp(optarg, "full"))
				o.leak.full = true;
			else if (!strcmp(optarg, "no"))
				o.no_scan = true;
			else
				return cli_usage_error(&cmd_heap, "--leak-check takes summary, full or no");
			break;
		case OPT_SHOW_KINDS: {
			o.leak.kinds = 0;
			char *list = xstrdup(optarg), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (!strcmp(t, "all"))
					o.leak.kinds |= 15;
				else if (!strcmp(t, "none"))
					;
				else if (!strcmp(t, "definite"))
					o.leak.kinds |= 1u << HT_LEAK_DEFINITELY;
				else if (!strcmp(t, "indirect"))
					o.leak.kinds |= 1u << HT_LEAK_INDIRECTLY;
				else if (!strcmp(t, "possible"))
					o.leak.kinds |= 1u << HT_LEAK_POSSIBLY;
				else if (!strcmp(t, "reachable"))
					o.leak.kinds |= 1u << HT_LEAK_REACHABLE;
				else {
					free(list);
					return cli_usage_error(&cmd_heap, "unknown leak kind '%s'", t);
				}
			}
			free(list);
			break;
		}
		case OPT_ERROR_EXIT: {
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 255)
				return cli_usage_error(&cmd_heap, "--error-exitcode takes 0 to 255");
			o.error_exitcode = (int)v;
			break;
		}
		case OPT_SUPP:
			if (o.leak.nfiles == sizeof(supp_files) / sizeof(*supp_files))
				return cli_usage_error(&cmd_heap, "too many --suppressions files");
			supp_files[o.leak.nfiles++] = optarg;
			break;
		case OPT_NO_DEFAULT_SUPP: o.leak.no_default = true; break;
		case OPT_GEN_SUPP:
			if (!strcmp(optarg, "all") || !strcmp(optarg, "yes"))
				o.leak.gen_supp = true;
			else if (!strcmp(optarg, "no"))
				o.leak.gen_supp = false;
			else
				return cli_usage_error(&cmd_heap, "--gen-suppressions takes all, yes or no");
			break;
		case OPT_LIBC_FREERES:
		case OPT_CXX_FREERES: {
			bool *no = opt == OPT_LIBC_FREERES ? &o.no_libc_freeres : &o.no_cxx_freeres;
			if (!strcmp(optarg, "yes"))
				*no = false;
			else if (!strcmp(optarg, "no"))
				*no = true;
			else
				return cli_usage_error(&cmd_heap, "--%s takes yes or no",
						       opt == OPT_LIBC_FREERES ? "run-libc-freeres" : "run-cxx-freeres");
			break;
		}
		case OPT_FOLLOW: o.follow = true; break;
		case OPT_MMAP: o.mmap = true; break;
		case OPT_TOP: {
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 100000)
				return cli_usage_error(&cmd_heap, "--top takes a count");
			o.top = v;
			break;
		}
		case 'q': cli_quiet = true; break;
		default: return cli_usage_error(&cmd_heap, "unknown option");
		}
	}
	int rc = EXIT_OK;
	if (heapleak_load(&o.leak, &o.supp))
		return EXIT_FAIL;
	bool leaks = false;
	if (report) {
		if (argc - optind != 1)
			rc = cli_usage_error(&cmd_heap, "report takes one trace file");
		else
			rc = analyse(&o, argv[optind], argv[optind], &leaks);
		if (rc == EXIT_OK && leaks && o.error_exitcode >= 0)
			rc = o.error_exitcode;
	} else if (argc - optind < 1) {
		rc = cli_usage_error(&cmd_heap, "nothing to run: kiln heap [OPTIONS] -- COMMAND [ARGS...]");
	} else {
		int code = 0;
		char *trace = NULL;
		rc = run_command(&o, argv + optind, &code, &trace);
		if (rc == EXIT_OK) {
			fflush(stdout);
			struct strbuf what = STRBUF_INIT;
			for (int i = optind; i < argc && what.len < 200; i++)
				strbuf_addf(&what, "%s%s", i > optind ? " " : "", argv[i]);
			rc = analyse(&o, trace, strbuf_str(&what), &leaks);
			if (rc == EXIT_OK && !cli_quiet)
				fprintf(stderr, "kiln heap: trace in %s; re-analyse with: kiln heap report %s\n", trace, trace);
			strbuf_release(&what);
			if (rc == EXIT_OK)
				rc = leaks && o.error_exitcode >= 0 ? o.error_exitcode : code;
		}
		free(trace);
	}
	suppress_free(o.supp);
	return rc;
}

const struct command cmd_heap = {
	"heap", run, "trace a command's heap: peak, leaks, hot allocation sites", usage,
};
