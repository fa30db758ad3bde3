/* cmd-mem: `kiln mem`, a process's memory over time: launches a command or
 * attaches to a PID, samples /proc, its cgroup and PSI every interval,
 * prints a live line per sample, and ends with the peak, the growth rate,
 * heuristic leak and pressure verdicts, and optional CSV/JSON/SVG files.
 * Invariant: however sampling ends (the target exits or dies, the duration,
 * Ctrl-C, SIGTERM), the summary is printed and every file is written. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analyze/memtrend.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/mem-files.h"
#include "collect/launch.h"
#include "collect/procmem.h"
#include "render/memchart.h"

static const char usage[] =
	"usage: kiln mem [OPTIONS] -- COMMAND [ARGS...]\n"
	"       kiln mem [OPTIONS] -p PID\n"
	"\n"
	"Samples a process's memory over time from /proc/PID (status, statm,\n"
	"stat, smaps_rollup, smaps), its memory cgroup (v1 or v2) and PSI memory\n"
	"pressure; prints one line per interval, then the peak RSS, the growth\n"
	"rate (least squares) and heuristic verdicts: leak, peak against current,\n"
	"pressure against the cgroup limit and MemAvailable.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID          attach to a running process\n"
	"  -i, --interval TIME    time between samples: 250ms, 1s, 2.5s (default 1s)\n"
	"  -d, --duration TIME    stop after this long (default: until the target exits)\n"
	"      --csv FILE         write every sample as CSV (bytes; one row per sample)\n"
	"      --json FILE        write every sample and the summary as JSON\n"
	"  -o, --output FILE      the same as --json for FILE.json, else --csv\n"
	"      --svg FILE         write a chart of RSS, anon and heap over time\n"
	"      --breakdown        at the end, memory by component (libraries, heap,\n"
	"                         stacks, anonymous and file mappings) from smaps\n"
	"      --leak-rate MB     growth called a leak above MB per hour (default 10)\n"
	"  -q, --quiet            no live lines: only the summary\n"
	"\n"
	"The live lines and the summary go to standard output (to standard error\n"
	"when a --csv or --json FILE is '-'). Sizes in the live lines are MiB.\n"
	"The heap column is the Rss of [heap] plus anonymous private mappings,\n"
	"summed from /proc/PID/smaps at every sample. Ctrl-C or SIGTERM stops\n"
	"sampling; the summary and files are still written. Exit status: 0, 1 on\n"
	"failure, 2 on a usage error.\n";

static void human(char *buf, size_t n, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	double v = bytes < 0 ? -bytes : bytes;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%s%.1f %s" : "%s%.0f %s", bytes < 0 ? "-" : "", v, units[u]);
}

#define HAS(s, m) (((s)->have & PROCMEM_BIT(m)) != 0)

/* ---- live lines ---- */

static void live_header(FILE *out)
{
	fprintf(out, "%8s %9s %9s %9s %9s %8s %9s %9s %19s %6s\n", "time", "rss", "anon", "file", "heap", "swap",
		"minflt/s", "majflt/s", "cgroup use/limit", "psi10");
}

static void col_mib(FILE *out, const struct procmem_sample *s, enum procmem_metric m, uint64_t v, int w)
{
	if (HAS(s, m))
		fprintf(out, " %*.1f", w, (double)v / 1048576.0);
	else
		fprintf(out, " %*s", w, "-");
}

static void live_line(FILE *out, const struct procmem_sample *s, const struct procmem_sample *prev)
{
	fprintf(out, "%7.1fs", s->t);
	col_mib(out, s, PROCMEM_RSS, s->rss, 9);
	col_mib(out, s, PROCMEM_ANON, s->rss_anon, 9);
	col_mib(out, s, PROCMEM_FILE, s->rss_file, 9);
	col_mib(out, s, PROCMEM_HEAP, s->heap, 9);
	col_mib(out, s, PROCMEM_SWAP, s->swap, 8);
	double dt = prev ? s->t - prev->t : 0;
	if (prev && dt > 0 && HAS(s, PROCMEM_MINFLT) && HAS(prev, PROCMEM_MINFLT)) {
		fprintf(out, " %9.0f", (double)(s->minflt - prev->minflt) / dt);
		fprintf(out, " %9.0f", (double)(s->majflt - prev->majflt) / dt);
	} else {
		fprintf(out, " %9s %9s", "-", "-");
	}
	char cg[48];
	if (HAS(s, PROCMEM_CG_USAGE)) {
		if (HAS(s, PROCMEM_CG_LIMIT) && s->cg_limit != UINT64_MAX)
			snprintf(cg, sizeof(cg), "%.1f/%.1f", (double)s->cg_usage / 1048576.0,
				 (double)s->cg_limit / 1048576.0);
		else
			snprintf(cg, sizeof(cg), "%.1f/max", (double)s->cg_usage / 1048576.0);
	} else {
		snprintf(cg, sizeof(cg), "-");
	}
	fprintf(out, " %19s", cg);
	if (HAS(s, PROCMEM_PSI_SOME))
		fprintf(out, " %6.2f\n", s->psi_some);
	else
		fprintf(out, " %6s\n", "-");
	fflush(out);
}

/* ---- summary ---- */

static void print_summary(FILE *out, const struct procmem_sample *s, size_t n, const struct mem_run_info *ri,
			  const struct memtrend *mt, bool have_trend, double leak_rate)
{
	char a[32], b[32], c[32];
	fprintf(out, "kiln mem: %s: %s after %.1f s, %zu samples every %g s\n", ri->target, ri->why,
		n ? s[n - 1].t : 0.0, n, ri->interval);
	if (ri->child_status >= 0) {
		if (WIFEXITED(ri->child_status) && WEXITSTATUS(ri->child_status))
			fprintf(out, "  the command exited with status %d\n", WEXITSTATUS(ri->child_status));
		else if (WIFSIGNALED(ri->child_status) && !cli_stop_requested)
			fprintf(out, "  the command was killed by signal %d\n", WTERMSIG(ri->child_status));
	}
	if (!have_trend) {
		fprintf(out, "  no samples: the process ended before the first one\n");
		return;
	}
	human(a, sizeof(a), (double)mt->peak_rss);
	fprintf(out, "  peak RSS     %s at %.1f s", a, mt->peak_time);
	if (mt->hwm) {
		human(b, sizeof(b), (double)mt->hwm);
		fprintf(out, " (the kernel's high-water mark VmHWM: %s)", b);
	}
	human(a, sizeof(a), (double)mt->last_rss);
	fprintf(out, "\n  current RSS  %s: current is %.0f%% of peak\n", a, mt->current_pct_of_peak);
	if (mt->have_slope) {
		fprintf(out, "  growth       %+.1f MB/hour (RSS, least squares over %zu samples in %.1f s)", mt->mb_per_hour,
			mt->n, mt->span);
		if (mt->have_heap_slope)
			fprintf(out, "; heap %+.1f MB/hour", mt->heap_mb_per_hour);
		fputc('\n', out);
	}
	if (mt->minflt || mt->majflt)
		fprintf(out, "  faults       %llu minor, %llu major while sampled\n", (unsigned long long)mt->minflt,
			(unsigned long long)mt->majflt);
	if (mt->have_cgroup) {
		human(a, sizeof(a), (double)mt->cg_usage);
		human(c, sizeof(c), (double)mt->cg_peak_usage);
		if (mt->cg_limit != UINT64_MAX) {
			human(b, sizeof(b), (double)mt->cg_limit);
			fprintf(out, "  cgroup       %s of %s (at %.0f%% of the cgroup limit; peak %s)\n", a, b, mt->cg_pct, c);
		} else {
			fprintf(out, "  cgroup       %s used, no limit (peak %s)\n", a, c);
		}
	}
	if (mt->have_mem) {
		human(a, sizeof(a), (double)mt->mem_available);
		human(b, sizeof(b), (double)mt->mem_total);
		fprintf(out, "  system       RSS is %.1f%% of MemTotal %s; MemAvailable %s\n", mt->rss_pct_of_total, b, a);
	}
	if (mt->have_psi)
		fprintf(out, "  pressure     PSI memory some avg10 up to %.2f%%, full up to %.2f%%\n", mt->psi_some_max,
			mt->psi_full_max);

	/* the verdict lines: heuristics, and said to be */
	fprintf(out, "verdict (heuristic): %s", memtrend_verdict_names[mt->verdict]);
	switch (mt->verdict) {
	case MEMTREND_TOO_SHORT:
		fprintf(out, ": need at least 3 samples over a second\n");
		break;
	case MEMTREND_LEAK:
		fprintf(out, ": RSS grew %+.1f MB/hour, above %g MB/hour, and is still at %.0f%% of its peak\n",
			mt->mb_per_hour, leak_rate, mt->current_pct_of_peak);
		break;
	case MEMTREND_RELEASED:
		fprintf(out, ": RSS grew %+.1f MB/hour but current is %.0f%% of peak, so memory was given back\n",
			mt->mb_per_hour, mt->current_pct_of_peak);
		break;
	case MEMTREND_SHRINKING:
		fprintf(out, ": RSS fell %.1f MB/hour\n", -mt->mb_per_hour);
		break;
	case MEMTREND_STABLE:
		fprintf(out, ": growth %+.1f MB/hour is within +-%g MB/hour\n", mt->mb_per_hour, leak_rate);
		break;
	}
	if (mt->verdict != MEMTREND_TOO_SHORT && mt->span < 60 && mt->verdict != MEMTREND_STABLE)
		fprintf(out, "  (extrapolated from %.1f s of samples: watch longer to confirm a leak)\n", mt->span);
	if (mt->near_limit)
		fprintf(out, "pressure (heuristic): at %.0f%% of the cgroup limit\n", mt->cg_pct);
	if (mt->hours_to_limit >= 0 && mt->verdict == MEMTREND_LEAK)
		fprintf(out, "pressure (heuristic): at this rate the cgroup limit is reached in %.1f hours\n",
			mt->hours_to_limit);
	if (mt->near_total)
		fprintf(out, "pressure (heuristic): the system is low on memory (RSS %.0f%% of MemTotal)\n",
			mt->rss_pct_of_total);
	if (mt->hours_to_available >= 0 && mt->verdict == MEMTREND_LEAK)
		fprintf(out, "pressure (heuristic): at this rate MemAvailable is used up in %.1f hours\n",
			mt->hours_to_available);
}

static void print_breakdown(FILE *out, const struct procmem_maps *maps, double t, pid_t pid)
{
	struct procmem_breakdown b;
	procmem_breakdown_build(maps, &b);
	char r[32], p[32], s[32], z[32];
	fprintf(out, "\nmemory by component at the last sample (%.1f s), from /proc/%d/smaps:\n", t, (int)pid);
	fprintf(out, "%11s %11s %11s %11s %5s  %-12s %s\n", "rss", "pss", "swap", "size", "maps", "kind", "name");
	for (size_t i = 0; i < b.n; i++) {
		const struct procmem_part *pt = &b.parts[i];
		human(r, sizeof(r), (double)pt->rss);
		human(p, sizeof(p), (double)pt->pss);
		human(s, sizeof(s), (double)pt->swap);
		human(z, sizeof(z), (double)pt->size);
		fprintf(out, "%11s %11s %11s %11s %5u  %-12s %s\n", r, p, s, z, pt->nmaps, procmem_kind_names[pt->kind],
			pt->name);
	}
	human(r, sizeof(r), (double)b.rss);
	fprintf(out, "%11s total in %zu mappings; thread stacks found %s\n", r, maps->n,
		b.stacks_by_sp ? "from the threads' stack pointers (/proc/PID/task/TID/syscall)"
			       : "by glibc's guard-page layout (no stack pointers readable here)");
	procmem_breakdown_release(&b);
}

/* ---- the command ---- */

enum { OPT_CSV = 256, OPT_JSON, OPT_SVG, OPT_BREAKDOWN, OPT_LEAK_RATE };

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static const char *const metric_notes[PROCMEM_NMETRICS] = {
	[PROCMEM_RSS] = "RSS", [PROCMEM_ANON] = "RssAnon/RssFile (status)", [PROCMEM_HEAP] = "smaps (heap column)",
	[PROCMEM_MINFLT] = "page faults (stat)", [PROCMEM_CG_USAGE] = "a memory cgroup",
	[PROCMEM_PSI_SOME] = "PSI memory pressure", [PROCMEM_PSS] = "smaps_rollup (PSS)",
};

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"interval", required_argument, NULL, 'i'},
		{"duration", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"csv", required_argument, NULL, OPT_CSV},
		{"json", required_argument, NULL, OPT_JSON},
		{"svg", required_argument, NULL, OPT_SVG},
		{"breakdown", no_argument, NULL, OPT_BREAKDOWN},
		{"leak-rate", required_argument, NULL, OPT_LEAK_RATE},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	pid_t pid = 0;
	double interval = 1, duration = 0;
	const char *csv = NULL, *json = NULL, *svg = NULL;
	bool breakdown = false;
	struct memtrend_options mo;
	memtrend_options_init(&mo);
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:i:d:o:q", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'p': {
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > 0x7fffffff)
				return cli_usage_error(&cmd_mem, "-p takes a PID, not '%s'", optarg);
			pid = (pid_t)v;
			break;
		}
		case 'i':
			if (cli_parse_seconds(optarg, 0.01, &interval))
				return cli_usage_error(&cmd_mem, "--interval takes a time of at least 10ms (250ms, 1s, 2.5s)");
			break;
		case 'd':
			if (cli_parse_seconds(optarg, 0.001, &duration))
				return cli_usage_error(&cmd_mem, "--duration takes a time (30s, 5m, 2.5s)");
			break;
		case 'o':
			if (ends_with(optarg, ".json"))
				json = optarg;
			else
				csv = optarg;
			break;
		case OPT_CSV: csv = optarg; break;
		case OPT_JSON: json = optarg; break;
		case OPT_SVG: svg = optarg; break;
		case OPT_BREAKDOWN: breakdown = true; break;
		case OPT_LEAK_RATE:
			mo.leak_mb_per_hour = strtod(optarg, &end);
			if (*end || !(mo.leak_mb_per_hour > 0))
				return cli_usage_error(&cmd_mem, "--leak-rate takes MB per hour");
			break;
		case 'q': cli_quiet = true; break;
		default:
			return cli_usage_error(&cmd_mem, "unknown option");
		}
	}
	char **cmd = argv + optind;
	int ncmd = argc - optind;
	if ((ncmd > 0) + (pid > 0) != 1)
		return cli_usage_error(&cmd_mem, ncmd ? "give one target: a command or -p PID"
						      : "nothing to watch: give a command or -p PID");
	bool to_stdout = (csv && !strcmp(csv, "-")) || (json && !strcmp(json, "-")) || (svg && !strcmp(svg, "-"));
	FILE *tty = to_stdout ? stderr : stdout;

	struct launch child = {.pid = 0, .go_fd = -1, .err_fd = -1};
	if (ncmd > 0) {
		int err = launch_start(&child, cmd);
		if (err)
			return cli_error("cannot start '%s': %s", cmd[0], strerror(-err));
		pid = child.pid;
	}
	struct procmem pm;
	int err = procmem_open(&pm, pid);
	if (err) {
		if (ncmd > 0)
			launch_abort(&child);
		if (err == -ESRCH)
			return cli_error("no process with PID %d", (int)pid);
		return cli_error("cannot read /proc/%d: %s", (int)pid, strerror(-err));
	}
	char target[256];
	if (ncmd > 0)
		snprintf(target, sizeof(target), "%s", cmd[0]);
	else
		snprintf(target, sizeof(target), "pid %d", (int)pid);

	struct cli_signals sigs;
	cli_signals_install(&sigs);

	int rc = EXIT_OK, child_status = -1;
	bool child_alive = ncmd > 0;
	if (ncmd > 0) {
		err = launch_release(&child);
		if (err) {
			child_alive = false;
			rc = cli_error("cannot run '%s': %s", cmd[0], strerror(-err));
		}
	}
	struct procmem_sample *samples = NULL;
	size_t n = 0, cap = 0;
	struct procmem_maps maps = {0};
	unsigned noted = 0;
	const char *why = "stopped";
	double t0 = cli_now();
	if (rc == EXIT_OK && !cli_quiet)
		live_header(tty);
	size_t tick = 0;
	while (rc == EXIT_OK) {
		if (cli_stop_requested) {
			why = "stopped by a signal";
			break;
		}
		if (child_alive) {
			int status;
			if (waitpid(child.pid, &status, WNOHANG) == child.pid) {
				child_alive = false;
				child_status = status;
				why = WIFSIGNALED(status) ? "the command was killed" : "the command exited";
				break;
			}
		}
		double t = cli_now() - t0;
		bool last = duration > 0 && t >= duration - 1e-3;
		struct procmem_sample s;
		err = procmem_sample(&pm, t, true, breakdown ? &maps : NULL, &s);
		if (err == -ESRCH) {
			if (child_alive)
				continue; /* exited between the wait and the read: reap it above */
			why = "the process exited";
			break;
		}
		samples = xgrow(samples, sizeof(*samples), n + 1, &cap);
		samples[n++] = s;
		for (int m = 0; m < PROCMEM_NMETRICS; m++) {
			if (metric_notes[m] && !HAS(&s, m) && !(noted & PROCMEM_BIT(m))) {
				noted |= PROCMEM_BIT(m);
				if (!cli_quiet)
					fprintf(stderr, "kiln mem: note: no %s for pid %d here; left out\n", metric_notes[m],
						(int)pid);
			}
		}
		if (!cli_quiet)
			live_line(tty, &s, n > 1 ? &samples[n - 2] : NULL);
		if (last) {
			why = "duration reached";
			break;
		}
		/* sleep to the next tick on a fixed grid, so samples do not drift;
		 * a late sample skips the ticks it missed */
		double now = cli_now() - t0;
		tick = (size_t)floor(now / interval) + 1;
		double next = (double)tick * interval;
		if (duration > 0 && next > duration)
			next = duration;
		while (!cli_stop_requested) {
			double left = next - (cli_now() - t0);
			if (left <= 0)
				break;
			struct timespec ts = {(time_t)left, (long)((left - floor(left)) * 1e9)};
			if (nanosleep(&ts, NULL) != 0 && child_alive) {
				int status;
				if (waitpid(child.pid, &status, WNOHANG) == child.pid) {
					child_alive = false;
					child_status = status;
					why = WIFSIGNALED(status) ? "the command was killed" : "the command exited";
					break;
				}
			}
		}
		if (child_status >= 0)
			break;
	}
	if (child_alive) {
		/* stopped early: end the command, as kiln record does */
		kill(child.pid, SIGTERM);
		for (int i = 0; i < 20 && waitpid(child.pid, &child_status, WNOHANG) == 0; i++)
			usleep(50000);
		if (waitpid(child.pid, &child_status, WNOHANG) == 0) {
			kill(child.pid, SIGKILL);
			waitpid(child.pid, &child_status, 0);
		}
		child_status = -1; /* we ended it: not worth a line */
	}
	cli_signals_restore(&sigs);

	struct memtrend mt;
	bool have_trend = memtrend_analyze(samples, n, &mo, &mt) == 0;
	struct mem_run_info ri = {pid, target, interval, why, child_status};
	if (rc == EXIT_OK) {
		print_summary(tty, samples, n, &ri, &mt, have_trend, mo.leak_mb_per_hour);
		if (breakdown) {
			if (maps.n)
				print_breakdown(tty, &maps, n ? samples[n - 1].t : 0, pid);
			else
				fprintf(tty, "\nno breakdown: /proc/%d/smaps could not be read\n", (int)pid);
		}
		if (fflush(tty) != 0 || ferror(tty))
			rc = cli_error("write error on standard output: %s", strerror(errno ? errno : EIO));
	}
	if (csv && mem_write_csv(csv, samples, n))
		rc = EXIT_FAIL;
	if (json && mem_write_json(json, samples, n, &ri, &mt, have_trend))
		rc = EXIT_FAIL;
	if (svg) {
		if (!have_trend)
			rc = cli_error("no chart: there are no samples");
		else if (mem_write_svg(svg, samples, n, &ri, &mt))
			rc = EXIT_FAIL;
	}
	procmem_maps_release(&maps);
	procmem_release(&pm);
	free(samples);
	return rc;
}

const struct command cmd_mem = {
	"mem", run, "a process's memory over time, with leak and pressure heuristics", usage,
};
