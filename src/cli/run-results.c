/* run-results: kiln run's results folder and summary (see run-results.h).
 * Invariant: summary.json is written after every other file, so a reader
 * that finds it finds the files it names; index.html is built last, from
 * summary.json. */
#include "cli/run-results.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyze/heapleaks.h"
#include "analyze/heapprof.h"
#include "analyze/heapstats.h"
#include "analyze/memtrend.h"
#include "analyze/runfigures.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/heap-leaks.h"
#include "cli/mem-files.h"
#include "cli/profile-files.h"
#include "format/runsummary.h"
#include "render/report.h"
#include "render/htmlreport.h"

/* DIR/name, valid until the next call */
static const char *in_dir(const char *dir, const char *name)
{
	static struct strbuf sb = STRBUF_INIT;
	strbuf_reset(&sb);
	strbuf_addf(&sb, "%s/%s", dir, name);
	return sb.buf;
}

static void human_bytes(char *buf, size_t n, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static char *signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	struct strbuf sb = STRBUF_INIT;
	if (abbrev)
		strbuf_addf(&sb, "SIG%s", abbrev);
	else
		strbuf_addf(&sb, "signal %d", sig);
	return sb.buf;
}

/* ---- CPU and off-CPU ------------------------------------------------------- */

/* The top functions by self of value index vi (nanoseconds). */
static void top_functions(struct profile *p, int vi, size_t *ntop, struct runsummary_func **top)
{
	struct report rep;
	struct report_options ro = {.value_index = vi, .sort = REPORT_SORT_SELF};
	*ntop = 0;
	*top = NULL;
	if (report_build(&rep, p, &ro) != 0)
		return;
	if (rep.ngroups) {
		const struct report_group *g = &rep.groups[0];
		size_t n = g->nrows < RUNSUMMARY_TOP ? g->nrows : RUNSUMMARY_TOP;
		*top = xcalloc(n ? n : 1, sizeof(**top));
		for (size_t i = 0; i < n; i++) {
			const struct report_row *row = &g->rows[i];
			struct runsummary_func *f = &(*top)[i];
			runsummary_set(&f->name, report_str(&rep, rep.frames[row->frame].name));
			f->self_pct = report_percent(row->self, g->total);
			f->total_pct = report_percent(row->total, g->total);
			f->self_s = (double)row->self / 1e9;
		}
		*ntop = n;
	}
	report_release(&rep);
}

static int write_report_txt(struct profile *p, int vi, const char *path)
{
	struct report rep;
	struct report_options ro = {.value_index = vi, .sort = REPORT_SORT_SELF};
	int err = report_build(&rep, p, &ro);
	if (err)
		return cli_error("cannot build the CPU report: %s", kiln_strerror(err));
	struct report_view view = {.input = "cpu.pb.gz", .format = "pprof", .limit = 40, .min_percent = 0.5};
	struct outfile out;
	int rc = outfile_open(&out, path);
	if (!rc) {
		report_write_text(&rep, &view, out.fp);
		rc = outfile_close(&out, true);
	}
	report_release(&rep);
	return rc;
}

static uint64_t sum_values(const struct profile *p, int vi)
{
	uint64_t sum = 0;
	for (size_t i = 0; vi >= 0 && i < p->nsamples; i++)
		sum += (uint64_t)profile_sample_values(p, i)[vi];
	return sum;
}

/* One flavour of the profile (cpu or off_cpu): the profile file with that
 * type as default, and its flamegraph. Sets *profile and *flame to the
 * names written. */
static int write_flavour(const struct run_record *r, const char *type, const char *pb, const char *svg,
			 const char *title, char **profile, char **flame)
{
	struct profile *p = r->cpu;
	int vi = profile_value_index(p, type), rc = EXIT_OK;
	uint32_t saved = p->default_sample_type;
	p->default_sample_type = profile_interns(p, type);
	if (cli_write_pprof(p, in_dir(r->dir, pb)))
		rc = EXIT_FAIL;
	else
		runsummary_set(profile, pb);
	p->default_sample_type = saved;
	char t[512];
	snprintf(t, sizeof(t), "%s: %s", title, r->name);
	if (cli_write_flame(p, vi, in_dir(r->dir, svg), t, "ns"))
		rc = EXIT_FAIL;
	else
		runsummary_set(flame, svg);
	return rc;
}

static int write_cpu(const struct run_record *r, struct runsummary *s)
{
	struct profile *p = r->cpu;
	int rc = write_flavour(r, "cpu", "cpu.pb.gz", "flame.svg", "CPU", &s->cpu.profile, &s->cpu.flame);
	int cpu_i = profile_value_index(p, "cpu");
	if (write_report_txt(p, cpu_i, in_dir(r->dir, "report.txt")))
		rc = EXIT_FAIL;
	else
		runsummary_set(&s->cpu.report, "report.txt");
	s->has_cpu = true;
	s->cpu.samples = sum_values(p, profile_value_index(p, "samples"));
	s->cpu.frequency_hz = r->freq;
	runfigures_seconds(p, cpu_i, &s->cpu.cpu_s, NULL);
	top_functions(p, cpu_i, &s->cpu.ntop, &s->cpu.top);
	if (!r->off_cpu)
		return rc;
	if (write_flavour(r, "off_cpu", "offcpu.pb.gz", "offcpu.svg", "Off-CPU", &s->offcpu.profile,
			  &s->offcpu.flame))
		rc = EXIT_FAIL;
	int off_i = profile_value_index(p, "off_cpu");
	s->has_offcpu = true;
	runfigures_seconds(p, off_i, &s->offcpu.wait_s, &s->offcpu.lock_wait_s);
	double all = s->offcpu.wait_s + s->cpu.cpu_s;
	s->offcpu.wait_pct = all > 0 ? 100 * s->offcpu.wait_s / all : 0;
	s->offcpu.lock_wait_pct = all > 0 ? 100 * s->offcpu.lock_wait_s / all : 0;
	top_functions(p, off_i, &s->offcpu.ntop, &s->offcpu.top);
	return rc;
}

/* ---- heap ------------------------------------------------------------------ */

static void heap_figures(const struct heapstats *h, struct heapsym *hs, const struct heapleaks *lt,
			 struct runsummary *s)
{
	uint64_t dur = h->have_end && h->end_time > h->last_time ? h->end_time : h->last_time;
	s->heap.allocations = h->allocs;
	s->heap.allocated_bytes = h->alloc_bytes;
	s->heap.alloc_rate_bps = dur ? (double)h->alloc_bytes / ((double)dur / 1e6) : 0;
	s->heap.peak_bytes = h->peak_bytes;
	s->heap.peak_t = (double)h->peak_time / 1e6;
	s->heap.final_bytes = h->live_bytes;
	s->heap.growth_bph = runfigures_heap_growth_bph(h);
	s->heap.peak_rss = h->rss_max;
	s->heap.frag_pct = runfigures_heap_frag_pct(h);
	s->heap.temporary = h->temporary;
	struct runsummary_leaks *l = &s->heap.leaks;
	l->definite_bytes = lt->bytes[HT_LEAK_DEFINITELY];
	l->definite_blocks = lt->count[HT_LEAK_DEFINITELY];
	l->indirect_bytes = lt->bytes[HT_LEAK_INDIRECTLY];
	l->indirect_blocks = lt->count[HT_LEAK_INDIRECTLY];
	l->possible_bytes = lt->bytes[HT_LEAK_POSSIBLY];
	l->possible_blocks = lt->count[HT_LEAK_POSSIBLY];
	l->reachable_bytes = lt->bytes[HT_LEAK_REACHABLE];
	l->reachable_blocks = lt->count[HT_LEAK_REACHABLE];
	size_t n;
	size_t *idx = heapstats_sorted(h, HEAPSTATS_BY_BYTES, &n);
	if (n > RUNSUMMARY_TOP)
		n = RUNSUMMARY_TOP;
	s->heap.top = xcalloc(n ? n : 1, sizeof(*s->heap.top));
	for (size_t i = 0; i < n; i++) {
		const struct heapsite *site = &h->sites[idx[i]];
		struct runsummary_site *o = &s->heap.top[i];
		struct heapframe fr[1];
		if (hs && heapsym_stack(hs, h, site->stack_id, fr, 1)) {
			runsummary_set(&o->name, fr[0].name);
		} else {
			char buf[48];
			snprintf(buf, sizeof(buf), "stack %llu", (unsigned long long)site->stack_id);
			runsummary_set(&o->name, buf);
		}
		o->bytes = site->bytes;
		o->count = site->allocs;
		o->peak_bytes = site->peak_bytes;
		o->leaked_bytes = heapleaks_site_bytes(lt, h, site, HT_LEAK_DEFINITELY) +
				  heapleaks_site_bytes(lt, h, site, HT_LEAK_INDIRECTLY);
	}
	s->heap.ntop = n;
	free(idx);
}

static int write_heap(const struct run_record *r, struct runsummary *s)
{
	const char *trace = in_dir(r->dir, "heap.kht");
	struct heapstats h;
	struct diag d = {0};
	int err = heapstats_analyze_file(&h, trace, &d);
	if (err == -ENOENT) {
		cli_warn("no heap trace: the target never started the heap tracker (a static binary, or it "
			 "failed before main)");
		return EXIT_OK;
	}
	if (err) {
		heapstats_release(&h);
		return cli_error("%s: %s", in_dir(r->dir, "heap.kht"), d.msg[0] ? d.msg : kiln_strerror(err));
	}
	if (h.read.ends_early)
		cli_warn("the heap trace ends early (%s): the target died before its last flush", h.read.why);
	int rc = EXIT_OK, serr = 0;
	struct heapsym *hs = heapsym_new(&h, &serr), *raw = NULL;
	if (!hs)
		cli_warn("cannot start the heap symbolizer: %s", kiln_strerror(serr));
	struct heapleak_opts lo = {
		.full = true,
		.kinds = 1u << HT_LEAK_DEFINITELY | 1u << HT_LEAK_INDIRECTLY | 1u << HT_LEAK_POSSIBLY,
	};
	struct suppress *supp = NULL;
	if (heapleak_load(&lo, &supp))
		rc = EXIT_FAIL;
	struct heapleaks lt;
	heapleaks_compute(&lt, &h, supp, hs, &raw);
	s->has_heap = true;
	runsummary_set(&s->heap.trace, "heap.kht");

	struct profile p;
	heapprof_build(&h, hs, false, &p);
	if (cli_write_pprof(&p, in_dir(r->dir, "heap.pb.gz")))
		rc = EXIT_FAIL;
	else
		runsummary_set(&s->heap.profile, "heap.pb.gz");
	profile_release(&p);
	if (cli_write_heapchart(&h, in_dir(r->dir, "heap.svg"), r->name))
		rc = EXIT_FAIL;
	else
		runsummary_set(&s->heap.chart, "heap.svg");
	struct outfile out;
	if (outfile_open(&out, in_dir(r->dir, "leaks.txt")) == EXIT_OK) {
		heapleak_print(out.fp, &lo, hs, &raw, &h, &lt);
		if (outfile_close(&out, true))
			rc = EXIT_FAIL;
		else
			runsummary_set(&s->heap.leaks_file, "leaks.txt");
	} else {
		rc = EXIT_FAIL;
	}
	heap_figures(&h, hs, &lt, s);
	heapleaks_release(&lt);
	suppress_free(supp);
	heapsym_free(raw);
	heapsym_free(hs);
	heapstats_release(&h);
	return rc;
}

/* ---- memory -------------------------------------------------------------- */

static int write_mem(const struct run_record *r, struct runsummary *s)
{
	if (r->nmem == 0) {
		cli_warn("no memory samples: the target ended before the first one");
		return EXIT_OK;
	}
	int rc = EXIT_OK;
	s->has_mem = true;
	if (mem_write_csv(in_dir(r->dir, "mem.csv"), r->mem_samples, r->nmem))
		rc = EXIT_FAIL;
	else
		runsummary_set(&s->mem.csv, "mem.csv");
	s->mem.samples = r->nmem;
	struct memtrend_options mo;
	memtrend_options_init(&mo);
	struct memtrend mt;
	if (memtrend_analyze(r->mem_samples, r->nmem, &mo, &mt) != 0)
		return rc;
	s->mem.interval_s = mt.n > 1 ? mt.span / (double)(mt.n - 1) : 0;
	s->mem.peak_rss = mt.peak_rss;
	s->mem.final_rss = mt.last_rss;
	s->mem.peak_t = mt.peak_time;
	s->mem.growth_mb_per_hour = mt.have_slope ? mt.mb_per_hour : 0;
	runsummary_set(&s->mem.verdict, memtrend_verdict_names[mt.verdict]);
	struct mem_run_info ri = {0, r->name, s->mem.interval_s, "", -1};
	if (mem_write_svg(in_dir(r->dir, "mem.svg"), r->mem_samples, r->nmem, &ri, &mt))
		rc = EXIT_FAIL;
	else
		runsummary_set(&s->mem.chart, "mem.svg");
	return rc;
}

/* ---- index.html -------------------------------------------------------------- */

/* The HTML report (render/htmlreport.h, drawn from summary.json). Sets
 * *built. */
static int write_index(const char *dir, bool *built)
{
	struct diag d = {0};
	int err = htmlreport_write_dir(dir, &d);
	*built = err == 0;
	if (err)
		return cli_error("index.html: %s", d.msg[0] ? d.msg : kiln_strerror(err));
	return EXIT_OK;
}

/* ---- the run ----------------------------------------------------------------- */

static void run_figures(const struct run_record *r, struct runsummary *s)
{
	s->version = RUNSUMMARY_VERSION;
	runsummary_set(&s->name, r->name);
	s->argv = xcalloc(r->argc ? r->argc : 1, sizeof(*s->argv));
	for (size_t i = 0; i < r->argc; i++)
		runsummary_set(&s->argv[i], r->argv[i]);
	s->argc = r->argc;
	struct tm tm;
	char buf[64];
	gmtime_r(&r->started.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	runsummary_set(&s->started, buf);
	s->duration_s = r->duration_s;
	int st = r->target_status;
	if (st >= 0 && WIFEXITED(st)) {
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(st));
		runsummary_set(&s->target_end, buf);
	} else if (st >= 0 && WIFSIGNALED(st)) {
		char *sig = signal_name(WTERMSIG(st));
		snprintf(buf, sizeof(buf), "killed by %s", sig);
		free(sig);
		runsummary_set(&s->target_end, buf);
	} else {
		runsummary_set(&s->target_end, "unknown");
	}
	if (r->stopped_by) {
		char *sig = signal_name(r->stopped_by);
		runsummary_set(&s->stopped_by, sig);
		free(sig);
	}
	if (r->load_command)
		runsummary_set(&s->load_command, r->load_command);
	s->load_exit = r->load_exit;
	s->load_s = r->load_s;
}

static void print_summary(FILE *f, const struct run_record *r, const struct runsummary *s, bool index_built)
{
	char a[32], b[32];
	fprintf(f, "kiln run: results in %s\n", r->dir);
	fprintf(f, "  target   %s after %.1f s%s%s\n", s->target_end, s->duration_s,
		s->stopped_by ? ", stopped by " : "", s->stopped_by ? s->stopped_by : "");
	if (s->load_command)
		fprintf(f, "  load     %s after %.1f s: %s\n",
			s->load_exit >= 0 ? "exited" : "stopped", s->load_s, s->load_command);
	if (s->has_cpu) {
		fprintf(f, "  cpu      %llu samples, %.2f s on CPU; top functions by self:\n",
			(unsigned long long)s->cpu.samples, s->cpu.cpu_s);
		for (size_t i = 0; i < s->cpu.ntop && i < 5; i++)
			fprintf(f, "           %5.1f%%  %s\n", s->cpu.top[i].self_pct, s->cpu.top[i].name);
	}
	if (s->has_offcpu)
		fprintf(f, "  off-cpu  %.2f s waiting (%.1f%% of the time), %.2f s of it in locks (%.1f%%)\n",
			s->offcpu.wait_s, s->offcpu.wait_pct, s->offcpu.lock_wait_s, s->offcpu.lock_wait_pct);
	if (s->has_heap) {
		human_bytes(a, sizeof(a), (double)s->heap.peak_bytes);
		fprintf(f, "  heap     peak %s at %.2f s, %llu allocations; leaks: %llu bytes in %llu blocks definitely "
			"lost, %llu indirectly, %llu possibly\n",
			a, s->heap.peak_t, (unsigned long long)s->heap.allocations,
			(unsigned long long)s->heap.leaks.definite_bytes, (unsigned long long)s->heap.leaks.definite_blocks,
			(unsigned long long)s->heap.leaks.indirect_bytes, (unsigned long long)s->heap.leaks.possible_bytes);
	}
	if (s->has_mem && s->mem.verdict) {
		human_bytes(a, sizeof(a), (double)s->mem.peak_rss);
		human_bytes(b, sizeof(b), (double)s->mem.final_rss);
		fprintf(f, "  mem      peak RSS %s at %.1f s, %s at the end; verdict (heuristic): %s\n", a, s->mem.peak_t,
			b, s->mem.verdict);
	}
	if (index_built)
		fprintf(f, "  report   %s/index.html\n", r->dir);
	else
		fprintf(f, "  report   index.html could not be written; the figures are in %s/summary.json\n", r->dir);
}

int run_results_write(const struct run_record *r, bool quiet)
{
	struct runsummary s;
	memset(&s, 0, sizeof(s));
	int rc = EXIT_OK;
	run_figures(r, &s);
	if (r->cpu && write_cpu(r, &s))
		rc = EXIT_FAIL;
	if (r->heap && write_heap(r, &s))
		rc = EXIT_FAIL;
	if (r->mem && write_mem(r, &s))
		rc = EXIT_FAIL;
	int err = runsummary_write_dir(&s, r->dir);
	if (err)
		rc = cli_error("cannot write %s: %s", in_dir(r->dir, RUNSUMMARY_FILE), kiln_strerror(err));
	bool index_built = false;
	if (!err && write_index(r->dir, &index_built))
		rc = EXIT_FAIL;
	if (!quiet) {
		print_summary(stdout, r, &s, index_built);
		fflush(stdout);
	}
	runsummary_release(&s);
	return rc;
}
