/* cmd-run: `kiln run`, a whole profiling session in one command: starts the
 * target under the chosen profilers (CPU sampler, heap tracker, /proc
 * memory sampling), waits until it is ready, runs the load command, stops
 * the target (SIGINT, SIGTERM, SIGKILL) and writes a results folder.
 * Invariant: however the session ends (the load ends, --duration, the
 * target exits or dies, it never gets ready, Ctrl-C or SIGTERM to kiln),
 * both processes are stopped and reaped and every file of what was
 * recorded is written; the target's environment alone carries LD_PRELOAD. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/run-results.h"
#include "collect/cpuprof.h"
#include "collect/launch.h"
#include "collect/procmem.h"
#include "collect/runctl.h"
#include "collect/sampler.h"

static const char usage[] =
	"usage: kiln run [OPTIONS] -- TARGET [ARGS...]\n"
	"\n"
	"Runs a profiling session: starts TARGET under the chosen profilers, waits\n"
	"until it is ready, runs the load command to its end (or for --duration),\n"
	"stops TARGET cleanly (SIGINT, then SIGTERM, then SIGKILL) and writes a\n"
	"results folder: cpu.pb.gz, flame.svg, report.txt (--cpu); offcpu.pb.gz,\n"
	"offcpu.svg (--off-cpu); heap.kht, heap.pb.gz, heap.svg, leaks.txt (--heap);\n"
	"mem.csv, mem.svg (--mem); summary.json, index.html; target.log and\n"
	"load.log (the output of TARGET and of the load).\n"
	"\n"
	"Profilers (--cpu when none is named):\n"
	"  --cpu                  sample CPU stacks (as kiln record)\n"
	"  --off-cpu              also time blocked off the CPU, with lock waits (implies --cpu)\n"
	"  --heap                 trace every allocation (as kiln heap; dynamically linked targets)\n"
	"  --mem                  sample memory from /proc (as kiln mem)\n"
	"\n"
	"Session:\n"
	"  --ready SPEC           wait for tcp:PORT, tcp:HOST:PORT, http:URL (a GET\n"
	"                         answering 2xx or 3xx) or delay:SECONDS before the load\n"
	"  --ready-timeout SECS   give up waiting for readiness after this long (default 30)\n"
	"  --warmup SECS          wait this long after ready before the load starts\n"
	"  --load 'CMD'           run sh -c 'CMD' once ready; $KILN_TARGET_PID and (with\n"
	"                         tcp or http readiness) $KILN_PORT are set for it\n"
	"  -d, --duration SECS    stop the load (or, without one, the target) after this\n"
	"                         long; without --load and --duration, run until the\n"
	"                         target exits or Ctrl-C\n"
	"  --stop-timeout SECS    between SIGINT, SIGTERM and SIGKILL (default 5)\n"
	"  -o, --output DIR       the results folder (default results/YYYYmmdd-HHMMSS-NAME);\n"
	"                         it must not exist or be empty\n"
	"  -F, --freq HZ          CPU samples per second (default 99)\n"
	"  -i, --interval SECS    memory sample interval (default 0.2 for the first\n"
	"                         minute, then 1)\n"
	"  -q, --quiet            no summary at the end\n"
	"\n"
	"Ctrl-C or SIGTERM stops the load and the target the same way, and the\n"
	"results are still written. Exit status: 0 when the results were written\n"
	"(whatever the target's own status), 1 on failure (the target did not\n"
	"start, died or was not ready in time, a file could not be written), 2 on\n"
	"a usage error.\n"
	"\n"
	"SECS is seconds (30, 2.5) or a time with a unit (500ms, 2.5s, 2m, 1h).\n";

enum {
	OPT_CPU = 256, OPT_HEAP, OPT_MEM, OPT_OFF_CPU, OPT_LOAD, OPT_READY, OPT_READY_TIMEOUT, OPT_WARMUP,
	OPT_STOP_TIMEOUT,
};

struct run_options {
	bool cpu, heap, mem, off_cpu;
	const char *load, *output, *ready_spec;
	struct runctl_ready ready;
	double ready_timeout, warmup, duration, stop_timeout, interval;
	unsigned freq;
};

static int parse_options(int argc, char **argv, struct run_options *o)
{
	static const struct option longopts[] = {
		{"cpu", no_argument, NULL, OPT_CPU},
		{"heap", no_argument, NULL, OPT_HEAP},
		{"mem", no_argument, NULL, OPT_MEM},
		{"off-cpu", no_argument, NULL, OPT_OFF_CPU},
		{"load", required_argument, NULL, OPT_LOAD},
		{"ready", required_argument, NULL, OPT_READY},
		{"ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"duration", required_argument, NULL, 'd'},
		{"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
		{"output", required_argument, NULL, 'o'},
		{"freq", required_argument, NULL, 'F'},
		{"interval", required_argument, NULL, 'i'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+d:o:F:i:q", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_CPU: o->cpu = true; break;
		case OPT_HEAP: o->heap = true; break;
		case OPT_MEM: o->mem = true; break;
		case OPT_OFF_CPU: o->off_cpu = o->cpu = true; break;
		case OPT_LOAD: o->load = optarg; break;
		case OPT_READY: {
			struct diag d = {0};
			if (runctl_ready_parse(optarg, strlen(optarg), &o->ready, &d))
				return cli_usage_error(&cmd_run, "--%s", d.msg);
			o->ready_spec = optarg;
			break;
		}
		case OPT_READY_TIMEOUT:
			if (cli_parse_seconds(optarg, 0.001, &o->ready_timeout))
				return cli_usage_error(&cmd_run, "--ready-timeout takes a time (30, 2.5s, 500ms, 2m), not '%s'", optarg);
			break;
		case OPT_WARMUP:
			if (cli_parse_seconds(optarg, 0, &o->warmup))
				return cli_usage_error(&cmd_run, "--warmup takes a time (30, 2.5s, 500ms, 2m), not '%s'", optarg);
			break;
		case 'd':
			if (cli_parse_seconds(optarg, 0.001, &o->duration))
				return cli_usage_error(&cmd_run, "--duration takes a time (30, 2.5s, 500ms, 2m), not '%s'", optarg);
			break;
		case OPT_STOP_TIMEOUT:
			if (cli_parse_seconds(optarg, 0.001, &o->stop_timeout))
				return cli_usage_error(&cmd_run, "--stop-timeout takes a time (30, 2.5s, 500ms, 2m), not '%s'", optarg);
			break;
		case 'i':
			if (cli_parse_seconds(optarg, 0.01, &o->interval))
				return cli_usage_error(&cmd_run, "--interval takes a time of at least 10ms (0.2, 250ms, 1s), not '%s'", optarg);
			break;
		case 'o': o->output = optarg; break;
		case 'F':
			if (cli_parse_freq(optarg, &o->freq))
				return cli_usage_error(&cmd_run, "-F takes a frequency from 1 to 10000 Hz");
			break;
		case 'q': cli_quiet = true; break;
		default: return cli_usage_error(&cmd_run, "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(&cmd_run, "nothing to run: kiln run [OPTIONS] -- TARGET [ARGS...]");
	if (!o->cpu && !o->heap && !o->mem)
		o->cpu = true;
	return EXIT_OK;
}

/* ---- the results folder ------------------------------------------------------ */

static int mkdir_parents(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0777) != 0 && errno != EEXIST) {
			int e = errno;
			free(p);
			return -e;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

/* Creates dir (and its parents), or accepts an empty existing directory.
 * *created says whether it was made here. */
static int make_results_dir(const char *dir, bool *created)
{
	*created = false;
	int err = mkdir_parents(dir);
	if (!err && mkdir(dir, 0777) == 0) {
		*created = true;
		return EXIT_OK;
	}
	if (err || errno != EEXIST)
		return cli_error("cannot create the results folder '%s': %s", dir, strerror(err ? -err : errno));
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return cli_error("'%s' exists and is not a folder", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cli_error("cannot open '%s': %s", dir, strerror(errno));
	DIR *dp = fdopendir(fd);
	bool empty = true;
	struct dirent *e;
	while (dp && (e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	if (dp)
		closedir(dp);
	if (!empty)
		return cli_error("the results folder '%s' is not empty: give a new or empty one (-o DIR)", dir);
	return EXIT_OK;
}

static char *default_dir(const char *name)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "results/%s-%s", stamp, name);
	return sb.buf;
}

static int open_log(const char *dir, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/%s", dir, name);
	int fd = open(sb.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		cli_error("cannot create '%s': %s", sb.buf, strerror(errno));
	strbuf_release(&sb);
	return fd;
}

/* The last lines of DIR/target.log, indented, on stderr. */
static void print_log_tail(const char *dir, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s/%s", dir, name);
	char *text = NULL;
	size_t len = 0;
	if (procmem_read_file(sb.buf, &text, &len) == 0 && len) {
		const char *start = text + len;
		int lines = 0;
		while (start > text && lines <= 10)
			if (*--start == '\n' && start + 1 < text + len)
				lines++;
		if (*start == '\n')
			start++;
		fprintf(stderr, "kiln: the end of %s:\n", sb.buf);
		for (const char *l = start; *l;) {
			const char *nl = strchr(l, '\n');
			int n = nl ? (int)(nl - l) : (int)strlen(l);
			fprintf(stderr, "  | %.*s\n", n, l);
			l += n + (nl != NULL);
		}
	}
	free(text);
	strbuf_release(&sb);
}

static void describe_status(struct strbuf *sb, int status)
{
	if (WIFEXITED(status))
		strbuf_addf(sb, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		strbuf_addf(sb, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		strbuf_adds(sb, "ended");
}

/* ---- the session --------------------------------------------------------------- */

struct session {
	const struct run_options *o;
	char **cmd;
	const char *dir;
	int load_log;
	struct launch target;
	int target_status, load_status;
	pid_t load_pid;
	bool target_done, load_started, load_done;
	bool ready, measuring, failed;
	bool target_stopping, load_stopping;
	struct runctl_stop target_stop, load_stop;
	double t_start, t_end, t_ready, t_load, t_load_end, last_probe;
	int last_http_status;
	/* CPU */
	struct sampler *smp;
	struct cpuprof *prof;
	struct sampler_sink sink;
	bool sampler_failed;
	/* memory */
	struct procmem pm;
	bool sampling_mem;
	struct procmem_sample *mem;
	size_t nmem, mem_cap;
	double next_mem;
};

static void sample_mem(struct session *s, double now)
{
	if (!s->sampling_mem || now < s->next_mem)
		return;
	struct procmem_sample m;
	memset(&m, 0, sizeof(m));
	double t = now - s->t_start;
	if (procmem_sample(&s->pm, t, true, NULL, &m) != 0) {
		s->sampling_mem = false; /* gone, or a zombie: nothing more to read */
		return;
	}
	s->mem = xgrow(s->mem, sizeof(*s->mem), s->nmem + 1, &s->mem_cap);
	s->mem[s->nmem++] = m;
	double interval = s->o->interval > 0 ? s->o->interval : t < 60 ? 0.2 : 1.0;
	s->next_mem = now + interval;
}

static void reap(struct session *s, double now)
{
	int st;
	if (!s->target_done && waitpid(s->target.pid, &st, WNOHANG) == s->target.pid) {
		s->target_done = true;
		s->target_status = st;
		s->t_end = now;
		kill(-s->target.pid, SIGKILL); /* what it left running in its group */
	}
	if (s->load_started && !s->load_done && waitpid(s->load_pid, &st, WNOHANG) == s->load_pid) {
		s->load_done = true;
		s->load_status = st;
		s->t_load_end = now;
		kill(-s->load_pid, SIGKILL);
	}
}

static int start_load(struct session *s)
{
	char pidv[48], portv[48], dirv[PATH_MAX + 16];
	snprintf(pidv, sizeof(pidv), "KILN_TARGET_PID=%d", (int)s->target.pid);
	snprintf(dirv, sizeof(dirv), "KILN_RUN_DIR=%s", s->dir);
	char *env[4] = {pidv, dirv, NULL, NULL};
	if (s->o->ready.kind == RUNCTL_READY_TCP || s->o->ready.kind == RUNCTL_READY_HTTP) {
		snprintf(portv, sizeof(portv), "KILN_PORT=%d", s->o->ready.port);
		env[2] = portv;
	}
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)s->o->load, NULL};
	struct launch_options lo = {.env = env, .out_fd = s->load_log, .new_group = true, .reset_signals = true};
	struct launch l;
	int err = launch_start_with(&l, argv, &lo);
	if (!err)
		err = launch_release(&l);
	if (err)
		return cli_error("cannot start the load command: %s", strerror(-err));
	s->load_pid = l.pid;
	s->load_started = true;
	return EXIT_OK;
}

static void check_ready(struct session *s, double now)
{
	const struct runctl_ready *r = &s->o->ready;
	double since = now - s->t_start;
	if (r->kind == RUNCTL_READY_NONE) {
		s->ready = true;
	} else if (r->kind == RUNCTL_READY_DELAY) {
		s->ready = since >= r->delay;
	} else if (now - s->last_probe >= 0.2) {
		s->last_probe = now;
		s->ready = runctl_probe(r, 500, &s->last_http_status) == 1;
		now = cli_now();
		since = now - s->t_start;
	}
	if (s->ready) {
		s->t_ready = now;
	} else if (since >= s->o->ready_timeout) {
		struct strbuf why = STRBUF_INIT;
		if (s->last_http_status)
			strbuf_addf(&why, "; the last answer was HTTP %d", s->last_http_status);
		cli_error("'%s' was not ready after %.0f s (%s%s); stopping it (--ready-timeout to wait longer)",
			  s->cmd[0], s->o->ready_timeout, s->o->ready_spec, strbuf_str(&why));
		strbuf_release(&why);
		s->failed = true;
	}
}

/* Runs the session until the target and the load have both ended. */
static void session_loop(struct session *s)
{
	const struct run_options *o = s->o;
	while (!(s->target_done && (!s->load_started || s->load_done))) {
		double now = cli_now();
		int wait_ms = 100;
		if (s->sampling_mem) {
			double ms = (s->next_mem - now) * 1000;
			if (ms < wait_ms)
				wait_ms = ms < 0 ? 0 : (int)ms;
		}
		if (s->smp && !s->sampler_failed) {
			int n = sampler_poll(s->smp, wait_ms, &s->sink);
			if (n < 0 && n != -EINTR) {
				cli_error("reading CPU samples failed: %s; the profile stops here", strerror(-n));
				s->sampler_failed = true;
			}
		} else {
			poll(NULL, 0, wait_ms); /* SIGCHLD and Ctrl-C interrupt it */
		}
		now = cli_now();
		sample_mem(s, now);
		reap(s, now);
		bool interrupted = cli_stop_requested;
		if (!s->ready && !s->failed) {
			if (s->target_done) {
				struct strbuf st = STRBUF_INIT;
				describe_status(&st, s->target_status);
				cli_error("'%s' %s before it was ready (%s)", s->cmd[0], st.buf, o->ready_spec);
				strbuf_release(&st);
				print_log_tail(s->dir, "target.log");
				s->failed = true;
			} else if (!interrupted) {
				check_ready(s, now);
			}
		}
		if (s->ready && !s->measuring && !s->target_done && !interrupted && !s->failed &&
		    now - s->t_ready >= o->warmup) {
			s->measuring = true;
			s->t_load = now;
			if (o->load && start_load(s))
				s->failed = true;
		}
		bool duration_up = s->measuring && o->duration > 0 && now - s->t_load >= o->duration;
		if (s->load_started && !s->load_done && !s->load_stopping &&
		    (interrupted || s->target_done || duration_up || s->failed)) {
			runctl_stop_begin(&s->load_stop, s->load_pid, true, o->stop_timeout, SIGINT, now);
			s->load_stopping = true;
		}
		bool phase_over = s->measuring && (o->load ? !s->load_started || s->load_done : duration_up);
		if (!s->target_done && !s->target_stopping && (interrupted || s->failed || phase_over)) {
			runctl_stop_begin(&s->target_stop, s->target.pid, true, o->stop_timeout, SIGINT, now);
			s->target_stopping = true;
		}
		if (s->load_stopping && !s->load_done)
			runctl_stop_step(&s->load_stop, now);
		if (s->target_stopping && !s->target_done)
			runctl_stop_step(&s->target_stop, now);
	}
}

/* Sets up the CPU sampler on the held target. */
static int open_sampler(struct session *s, struct symbolizer **sym)
{
	struct sampler_options so = {.freq = s->o->freq, .event = SAMPLER_CPU_CLOCK, .callgraph = SAMPLER_CG_AUTO,
				     .stack_size = 16384, .off_cpu = s->o->off_cpu};
	int err;
	struct symbolizer_options symo = {0};
	*sym = symbolizer_new(&symo, &err);
	if (!*sym)
		return cli_error("cannot start the symbolizer: %s", kiln_strerror(err));
	struct diag d = {0};
	pid_t pid = s->target.pid;
	err = sampler_open(&s->smp, &so, &pid, 1, false, true, &d);
	if ((err == -EACCES || err == -EPERM) && !so.off_cpu) {
		so.user_only = true;
		struct diag d2 = {0};
		if (sampler_open(&s->smp, &so, &pid, 1, false, true, &d2) == 0) {
			err = 0;
			cli_warn("no permission for kernel samples: recording user space only");
		}
	}
	if (err)
		return cli_error("%s", d.msg[0] ? d.msg : kiln_strerror(err));
	struct cpuprof_options co = {.callgraph = so.callgraph, .freq = so.freq, .off_cpu = so.off_cpu};
	s->prof = cpuprof_new(&co, *sym);
	cpuprof_sink(s->prof, &s->sink);
	return EXIT_OK;
}

/* The target's own environment additions: the heap tracker's. */
static int heap_env(const char *dir, struct strbuf *preload, struct strbuf *trace)
{
	char *lib = cli_sibling_path("libkiln-heap.so");
	if (!lib || access(lib, R_OK) != 0) {
		int rc = cli_error("cannot find the heap tracker '%s' (it is built next to the kiln binary)",
				   lib ? lib : "libkiln-heap.so");
		free(lib);
		return rc;
	}
	const char *old = getenv("LD_PRELOAD");
	strbuf_addf(preload, "LD_PRELOAD=%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
	free(lib);
	char abs[PATH_MAX];
	if (!realpath(dir, abs))
		return cli_error("cannot resolve '%s': %s", dir, strerror(errno));
	strbuf_addf(trace, "KILN_HEAP_TRACE=%s/heap.kht", abs);
	return EXIT_OK;
}

static void remove_empty_results(const char *dir, bool created)
{
	struct strbuf sb = STRBUF_INIT;
	static const char *const logs[] = {"target.log", "load.log"};
	for (int i = 0; i < 2; i++) {
		strbuf_reset(&sb);
		strbuf_addf(&sb, "%s/%s", dir, logs[i]);
		struct stat st;
		if (stat(sb.buf, &st) == 0 && st.st_size == 0)
			unlink(sb.buf);
	}
	strbuf_release(&sb);
	if (created)
		rmdir(dir);
}

static int run(int argc, char **argv)
{
	struct run_options o = {.ready_timeout = 30, .stop_timeout = 5, .freq = 99};
	int rc = parse_options(argc, argv, &o);
	if (rc)
		return rc;
	struct session s;
	memset(&s, 0, sizeof(s));
	s.o = &o;
	s.cmd = argv + optind;
	s.load_log = -1;
	s.last_probe = -1;
	const char *slash = strrchr(s.cmd[0], '/');
	const char *name = slash && slash[1] ? slash + 1 : s.cmd[0];
	char *dir = o.output ? xstrdup(o.output) : default_dir(name);
	s.dir = dir;
	bool created;
	if (make_results_dir(dir, &created)) {
		free(dir);
		return EXIT_FAIL;
	}
	struct strbuf preload = STRBUF_INIT, trace = STRBUF_INIT;
	char *env[4] = {NULL, NULL, NULL, NULL};
	int target_log = -1;
	struct symbolizer *sym = NULL;
	rc = EXIT_FAIL;
	if (o.heap) {
		if (heap_env(dir, &preload, &trace))
			goto out;
		env[0] = preload.buf;
		env[1] = trace.buf;
		env[2] = (char *)"KILN_HEAP_LEAKCHECK=1";
	}
	target_log = open_log(dir, "target.log");
	if (target_log < 0)
		goto out;
	if (o.load && (s.load_log = open_log(dir, "load.log")) < 0)
		goto out;
	struct launch_options lo = {.env = env, .out_fd = target_log, .new_group = true, .reset_signals = true};
	int err = launch_start_with(&s.target, s.cmd, &lo);
	if (err) {
		cli_error("cannot start '%s': %s", s.cmd[0], strerror(-err));
		goto out;
	}
	if (o.cpu && open_sampler(&s, &sym)) {
		launch_abort(&s.target);
		goto out;
	}
	struct cli_signals sigs;
	cli_signals_install(&sigs);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	s.t_start = cli_now();
	err = launch_release(&s.target);
	if (err) {
		cli_signals_restore(&sigs);
		cli_error("cannot run '%s': %s", s.cmd[0], strerror(-err));
		goto out;
	}
	if (o.ready.kind == RUNCTL_READY_NONE) {
		s.ready = true; /* no readiness asked for: the start is the ready point */
		s.t_ready = s.t_start;
	}
	if (o.mem && procmem_open(&s.pm, s.target.pid) == 0) {
		s.sampling_mem = true;
		s.next_mem = s.t_start + 0.05; /* past the exec */
	}
	session_loop(&s);
	if (s.smp) {
		sampler_disable(s.smp);
		sampler_drain(s.smp, &s.sink);
	}
	cli_signals_restore(&sigs);

	struct profile prof;
	bool have_prof = false;
	if (s.prof) {
		int berr = cpuprof_build(s.prof, &prof, (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec,
					 (int64_t)((s.t_end - s.t_start) * 1e9));
		if (berr)
			cli_error("cannot build the CPU profile: %s", kiln_strerror(berr));
		else
			have_prof = true;
	}
	struct run_record r = {
		.dir = dir, .name = name, .argv = s.cmd, .argc = (size_t)(argc - optind), .started = wall,
		.duration_s = s.t_end - s.t_start, .target_status = s.target_status,
		.stopped_by = s.target_stopping ? s.target_stop.last_signal : 0, .load_command = o.load,
		.load_exit = s.load_done && !s.load_stopping && WIFEXITED(s.load_status) ? WEXITSTATUS(s.load_status) : -1,
		.load_s = s.load_started ? s.t_load_end - s.t_load : 0, .cpu = have_prof ? &prof : NULL,
		.off_cpu = o.off_cpu, .freq = o.freq, .heap = o.heap, .mem = o.mem, .mem_samples = s.mem, .nmem = s.nmem,
	};
	rc = run_results_write(&r, cli_quiet);
	if (s.load_done && !s.load_stopping && !(WIFEXITED(s.load_status) && WEXITSTATUS(s.load_status) == 0)) {
		struct strbuf st = STRBUF_INIT;
		describe_status(&st, s.load_status);
		cli_error("the load command %s (see %s/load.log)", st.buf, dir);
		strbuf_release(&st);
		s.failed = true;
	}
	if (!s.target_stopping && !(WIFEXITED(s.target_status) && WEXITSTATUS(s.target_status) == 0)) {
		struct strbuf st = STRBUF_INIT;
		describe_status(&st, s.target_status);
		fprintf(stderr, "kiln run: note: the target %s by itself (see %s/target.log)\n", st.buf, dir);
		strbuf_release(&st);
	}
	if (s.failed)
		rc = EXIT_FAIL;
	if (have_prof)
		profile_release(&prof);
	created = false; /* the results stay */
out:
	if (rc != EXIT_OK && created)
		remove_empty_results(dir, created);
	if (target_log >= 0)
		close(target_log);
	if (s.load_log >= 0)
		close(s.load_log);
	cpuprof_free(s.prof);
	sampler_close(s.smp);
	if (sym)
		symbolizer_free(sym);
	if (s.sampling_mem || s.pm.pid)
		procmem_release(&s.pm);
	free(s.mem);
	strbuf_release(&preload);
	strbuf_release(&trace);
	free(dir);
	return rc;
}

const struct command cmd_run = {
	"run", run, "a whole profiling session: start, wait for ready, load, stop, results folder", usage,
};
