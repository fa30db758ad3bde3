/* cmd-record: `kiln record`, a CPU sampling profiler: launches a command
 * or attaches to running processes (or the whole system), samples their
 * stacks with perf_event_open, unwinds and symbolizes them while recording
 * and writes a pprof profile (and optionally a flamegraph).
 * Invariant: whatever was sampled is written, whether the target exits,
 * dies, or recording is stopped by Ctrl-C, SIGTERM or the duration. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/profile-files.h"
#include "collect/cpuprof.h"
#include "collect/launch.h"
#include "collect/sampler.h"
#include "format/pprof.h"

static const char usage[] =
	"usage: kiln record [OPTIONS] -- COMMAND [ARGS...]\n"
	"       kiln record [OPTIONS] -p PID[,PID...]\n"
	"       kiln record [OPTIONS] -a\n"
	"\n"
	"Samples the call stacks of a command, of running processes (all their\n"
	"threads, including threads and children created later) or of the whole\n"
	"system, with perf_event_open; unwinds and symbolizes them while recording\n"
	"and writes a pprof profile (profile.proto, gzipped).\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID[,PID...]  attach to running processes\n"
	"  -a, --all-cpus          profile the whole system (where permitted)\n"
	"  -F, --freq HZ           samples per second (default 99, at most 10000)\n"
	"  -d, --duration TIME     stop after this long (30, 2.5s, 500ms, 5m)\n"
	"  -e, --event EVENT       cpu-clock (default), task-clock, or cycles (a\n"
	"                          hardware counter; falls back to cpu-clock where missing)\n"
	"  -g, --call-graph MODE   fp (frame pointers), dwarf (CFI unwinding of a copy\n"
	"                          of the user stack) or auto (default: CFI, and frame\n"
	"                          pointers where CFI gives up)\n"
	"  --stack-size BYTES      user stack copied per sample for dwarf (default 16384)\n"
	"  --off-cpu               also record time spent blocked, with its stacks,\n"
	"                          weighted by how long the thread was off the CPU\n"
	"  --no-inherit            do not follow children and new threads\n"
	"  -o, --output FILE       the profile (default kiln.pb.gz)\n"
	"  --flame FILE.svg        also write a flamegraph\n"
	"  -q, --quiet             no summary\n"
	"  -v, --verbose           more detail in the summary\n"
	"\n"
	"Ctrl-C or SIGTERM stops recording; the profile is still written. The\n"
	"sample types are samples/count and cpu/nanoseconds (plus off_cpu and wall\n"
	"nanoseconds with --off-cpu); samples carry pid, thread and thread_name\n"
	"labels. Exit status: 0 when a profile was written, 1 on failure, 2 on a\n"
	"usage error.\n";

static int parse_pids(const char *s, pid_t **pids, size_t *n)
{
	size_t cap = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v <= 0 || v > 0x7fffffff || (*end && *end != ','))
			return -1;
		*pids = xgrow(*pids, sizeof(**pids), *n + 1, &cap);
		(*pids)[(*n)++] = (pid_t)v;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

static bool any_alive(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], 0) == 0 || errno == EPERM)
			return true;
	return false;
}

enum { OPT_STACK_SIZE = 256, OPT_OFF_CPU, OPT_NO_INHERIT, OPT_FLAME };

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"all-cpus", no_argument, NULL, 'a'},
		{"freq", required_argument, NULL, 'F'},
		{"duration", required_argument, NULL, 'd'},
		{"event", required_argument, NULL, 'e'},
		{"call-graph", required_argument, NULL, 'g'},
		{"stack-size", required_argument, NULL, OPT_STACK_SIZE},
		{"off-cpu", no_argument, NULL, OPT_OFF_CPU},
		{"no-inherit", no_argument, NULL, OPT_NO_INHERIT},
		{"output", required_argument, NULL, 'o'},
		{"flame", required_argument, NULL, OPT_FLAME},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	struct sampler_options so = {.freq = 99, .event = SAMPLER_CPU_CLOCK,
				     .callgraph = SAMPLER_CG_AUTO, .stack_size = 16384};
	pid_t *pids = NULL;
	size_t npids = 0;
	bool system = false;
	double duration = 0;
	const char *output = "kiln.pb.gz", *flame_path = NULL;
	int verbose = 0, opt;
	optind = 1;
	/* '+': options stop at the command, so its own options pass through */
	while ((opt = getopt_long(argc, argv, "+p:aF:d:e:g:o:qv", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'p':
			if (parse_pids(optarg, &pids, &npids)) {
				free(pids);
				return cli_usage_error(&cmd_record, "-p takes PID[,PID...], not '%s'", optarg);
			}
			break;
		case 'a': system = true; break;
		case 'F':
			if (cli_parse_freq(optarg, &so.freq)) {
				free(pids);
				return cli_usage_error(&cmd_record, "-F takes a frequency from 1 to 10000 Hz");
			}
			break;
		case 'd':
			if (cli_parse_seconds(optarg, 0.001, &duration)) {
				free(pids);
				return cli_usage_error(&cmd_record, "-d takes a duration (30, 2.5s, 500ms, 5m)");
			}
			break;
		case 'e':
			if (!strcmp(optarg, "cpu-clock"))
				so.event = SAMPLER_CPU_CLOCK;
			else if (!strcmp(optarg, "task-clock"))
				so.event = SAMPLER_TASK_CLOCK;
			else if (!strcmp(optarg, "cycles") || !strcmp(optarg, "cpu-cycles"))
				so.event = SAMPLER_CYCLES;
			else {
				free(pids);
				return cli_usage_error(&cmd_record, "unknown event '%s' (cpu-clock, task-clock, cycles)", optarg);
			}
			break;
		case 'g':
			if (!strcmp(optarg, "fp"))
				so.callgraph = SAMPLER_CG_FP;
			else if (!strcmp(optarg, "dwarf"))
				so.callgraph = SAMPLER_CG_DWARF;
			else if (!strcmp(optarg, "auto"))
				so.callgraph = SAMPLER_CG_AUTO;
			else {
				free(pids);
				return cli_usage_error(&cmd_record, "--call-graph takes fp, dwarf or auto");
			}
			break;
		case OPT_STACK_SIZE: {
			long v = strtol(optarg, &end, 10);
			if (*end || v < 512 || v > 65528) {
				free(pids);
				return cli_usage_error(&cmd_record, "--stack-size takes 512 to 65528 bytes");
			}
			so.stack_size = (unsigned)v & ~7u;
			break;
		}
		case OPT_OFF_CPU: so.off_cpu = true; break;
		case OPT_NO_INHERIT: so.no_inherit = true; break;
		case 'o': output = optarg; break;
		case OPT_FLAME: flame_path = optarg; break;
		case 'q': cli_quiet = true; break;
		case 'v': verbose++; break;
		default:
			free(pids);
			return cli_usage_error(&cmd_record, "unknown option");
		}
	}
	char **cmd = argv + optind;
	int ncmd = argc - optind;
	int targets = (ncmd > 0) + (npids > 0) + system;
	if (targets != 1) {
		free(pids);
		return cli_usage_error(&cmd_record, targets ? "give one target: a command, -p PIDs or -a"
							   : "nothing to record: give a command, -p PID or -a");
	}

	int err;
	struct symbolizer_options symo = {0};
	struct symbolizer *sym = symbolizer_new(&symo, &err);
	if (!sym) {
		free(pids);
		return cli_error("cannot start the symbolizer: %s", kiln_strerror(err));
	}

	struct launch child = {.pid = 0, .go_fd = -1, .err_fd = -1};
	if (ncmd > 0) {
		err = launch_start(&child, cmd);
		if (err) {
			symbolizer_free(sym);
			return cli_error("cannot start '%s': %s", cmd[0], strerror(-err));
		}
		pids = xmalloc(sizeof(*pids));
		pids[0] = child.pid;
		npids = 1;
	}

	struct sampler *smp = NULL;
	struct diag d = {0};
	err = sampler_open(&smp, &so, system ? NULL : pids, system ? 0 : npids, system, ncmd > 0, &d);
	if ((err == -EACCES || err == -EPERM) && !system && !so.off_cpu) {
		/* perf_event_paranoid 2 still allows user-space samples, as perf does */
		so.user_only = true;
		struct diag d2 = {0};
		if (sampler_open(&smp, &so, pids, npids, false, ncmd > 0, &d2) == 0) {
			err = 0;
			cli_warn("no permission for kernel samples: recording user space only");
		}
	}
	if (err) {
		if (ncmd > 0)
			launch_abort(&child);
		symbolizer_free(sym);
		free(pids);
		return cli_error("%s", d.msg[0] ? d.msg : kiln_strerror(err));
	}
	struct cpuprof_options co = {.callgraph = so.callgraph, .freq = so.freq, .off_cpu = so.off_cpu};
	struct cpuprof *prof = cpuprof_new(&co, sym);
	struct sampler_sink sink;
	cpuprof_sink(prof, &sink);
	if (ncmd == 0 && !system)
		for (size_t i = 0; i < npids; i++)
			cpuprof_add_process(prof, pids[i]);

	struct cli_signals sigs;
	cli_signals_install(&sigs);

	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	double t0 = cli_now();
	int rc = EXIT_OK, child_status = -1;
	bool child_alive = ncmd > 0;
	if (ncmd > 0) {
		err = launch_release(&child);
		if (err) {
			child_alive = false;
			rc = cli_error("cannot run '%s': %s", cmd[0], strerror(-err));
		}
	} else {
		err = sampler_enable(smp);
		if (err)
			rc = cli_error("cannot enable sampling: %s", strerror(-err));
	}
	const char *why = "";
	bool show_progress = !cli_quiet && isatty(2);
	double last_progress = t0;
	while (rc == EXIT_OK) {
		if (show_progress && cli_now() - last_progress >= 0.5) {
			struct cpuprof_stats ps;
			cpuprof_get_stats(prof, &ps);
			last_progress = cli_now();
			fprintf(stderr, "\rkiln record: %.1f s, %lu samples", last_progress - t0, ps.samples);
		}
		if (cli_stop_requested) {
			why = "stopped by a signal";
			break;
		}
		if (duration > 0 && cli_now() - t0 >= duration) {
			why = "duration reached";
			break;
		}
		int n = sampler_poll(smp, 100, &sink);
		if (n < 0 && n != -EINTR) {
			rc = cli_error("reading samples failed: %s", strerror(-n));
			break;
		}
		if (child_alive) {
			int status;
			pid_t w = waitpid(child.pid, &status, WNOHANG);
			if (w == child.pid) {
				child_alive = false;
				child_status = status;
				why = "the command exited";
				break;
			}
		} else if (ncmd == 0 && !system && !any_alive(pids, npids)) {
			why = npids > 1 ? "the processes exited" : "the process exited";
			break;
		}
	}
	double elapsed = cli_now() - t0;
	if (show_progress)
		fputs("\r\033[K", stderr);
	sampler_disable(smp);
	sampler_drain(smp, &sink);
	if (child_alive) {
		/* stopped early: end the command as perf does, then reap it */
		kill(child.pid, SIGTERM);
		for (int i = 0; i < 20 && waitpid(child.pid, &child_status, WNOHANG) == 0; i++)
			usleep(50000);
		if (waitpid(child.pid, &child_status, WNOHANG) == 0) {
			kill(child.pid, SIGKILL);
			waitpid(child.pid, &child_status, 0);
		}
	}
	cli_signals_restore(&sigs);

	struct sampler_stats sst;
	sampler_get_stats(smp, &sst);
	struct cpuprof_stats cst;
	cpuprof_get_stats(prof, &cst);
	struct profile p;
	bool have_profile = false;
	if (err == 0 || cst.samples) {
		int berr = cpuprof_build(prof, &p, (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec,
					 (int64_t)(elapsed * 1e9));
		if (berr)
			rc = cli_error("cannot build the profile: %s", kiln_strerror(berr));
		else
			have_profile = true;
	}
	if (have_profile && (cst.samples || rc == EXIT_OK)) {
		struct outfile out;
		int orc = outfile_open(&out, output);
		if (!orc) {
			int werr = pprof_write(&p, out.fp, 6);
			if (werr && !ferror(out.fp))
				cli_error("cannot encode the profile: %s", kiln_strerror(werr));
			orc = outfile_close(&out, werr == 0);
		}
		if (orc)
			rc = EXIT_FAIL;
		if (!orc && flame_path && cli_write_flame(&p, -1, flame_path, ncmd ? cmd[0] : "kiln record", "ns"))
			rc = EXIT_FAIL;
	}
	if (!cli_quiet) {
		double trunc = cst.user_unwound ? 100.0 * (double)cst.truncated / (double)cst.user_unwound : 0;
		fprintf(stderr,
			"kiln record: %s after %.1f s: %lu samples (%lu lost, %.1f%% of user stacks truncated), "
			"%lu distinct stacks, %lu processes%s%s\n",
			why[0] ? why : "stopped", elapsed, cst.samples, sst.lost, trunc, cst.stacks,
			cst.processes, have_profile && rc == EXIT_OK ? "; wrote " : "",
			have_profile && rc == EXIT_OK ? output : "");
		if (sst.fell_back)
			fprintf(stderr, "kiln record: note: the hardware event is not available here; used cpu-clock\n");
		if (so.off_cpu)
			fprintf(stderr, "kiln record: %lu off-CPU intervals\n", cst.switches);
		if (verbose) {
			struct symbolizer_stats ss;
			symbolizer_get_stats(sym, &ss);
			fprintf(stderr,
				"kiln record: %u events on %u CPUs, %lu records, %lu throttled; %lu locations, "
				"%lu unknown addresses; %lu modules, %lu lookups (%lu cached), %lu unwinds\n",
				sst.nevents, sst.ncpus, sst.records, sst.throttled, cst.locations, cst.unknown,
				ss.modules, ss.lookups, ss.cache_hits, ss.unwinds);
		}
		if (child_status >= 0 && WIFSIGNALED(child_status) && !cli_stop_requested)
			fprintf(stderr, "kiln record: the command was killed by signal %d\n", WTERMSIG(child_status));
	}
	if (have_profile)
		profile_release(&p);
	cpuprof_free(prof);
	sampler_close(smp);
	symbolizer_free(sym);
	free(pids);
	return rc;
}

const struct command cmd_record = {
	"record", run, "sample CPU stacks of a command or processes into a pprof profile", usage,
};
