/* sampler: perf_event_open sampling sessions (see sampler.h). */
#include "collect/sampler.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "collect/perfring.h"
#include "symbolize/symbolize.h"

#define SAMPLE_TYPE                                                                         \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID | PERF_SAMPLE_CPU | \
	 PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN)

struct sampler {
	struct sampler_options o;
	int *fds;
	size_t nfds, fds_cap;
	uint64_t *switch_ids; /* ids of the context-switch events */
	size_t nswitch_ids, switch_ids_cap;
	struct perfring *rings; /* one per CPU */
	int *ring_fd_of_cpu;
	unsigned ncpus;
	struct pollfd *pfds;
	struct sampler_stats st;
	uint64_t sample_type;
};

static const char *paranoid_advice(void)
{
	static char buf[256];
	int level = 99;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (f) {
		if (fscanf(f, "%d", &level) != 1)
			level = 99;
		fclose(f);
	}
	snprintf(buf, sizeof(buf),
		 "kernel.perf_event_paranoid is %d; run as root, or lower it: "
		 "sysctl -w kernel.perf_event_paranoid=1 (-1 to profile the whole system)",
		 level);
	return buf;
}

static void attr_init(struct perf_event_attr *a, const struct sampler_options *o, uint64_t sample_type,
		      bool sideband, bool enable_on_exec)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = o->event == SAMPLER_TASK_CLOCK ? PERF_COUNT_SW_TASK_CLOCK : PERF_COUNT_SW_CPU_CLOCK;
	a->freq = 1;
	a->sample_freq = o->freq;
	a->sample_type = sample_type;
	a->disabled = 1;
	a->inherit = !o->no_inherit;
	a->enable_on_exec = enable_on_exec;
	a->exclude_guest = 1;
	if (o->user_only) {
		a->exclude_kernel = 1;
		a->exclude_hv = 1;
		a->exclude_callchain_kernel = 1;
	}
	a->sample_id_all = 1;
	a->wakeup_watermark = (uint32_t)((size_t)o->ring_pages * 4096 / 4);
	a->watermark = 1;
	if (sample_type & PERF_SAMPLE_REGS_USER) {
		a->sample_regs_user = SYMBOLIZER_REGS_MASK;
		a->sample_stack_user = o->stack_size;
		if (o->callgraph == SAMPLER_CG_DWARF)
			a->exclude_callchain_user = 1;
	}
	a->sample_max_stack = 127;
	if (sideband) {
		a->mmap = 1;
		a->mmap2 = 1;
		a->comm = 1;
		a->comm_exec = 1;
		a->task = 1;
		a->build_id = 1;
		a->context_switch = o->off_cpu;
	}
}

static int add_fd(struct sampler *s, int fd)
{
	s->fds = xgrow(s->fds, sizeof(*s->fds), s->nfds + 1, &s->fds_cap);
	s->fds[s->nfds++] = fd;
	return fd;
}

/* Opens one event for (pid, cpu) and routes it into the CPU's ring. */
static int open_one(struct sampler *s, struct perf_event_attr *a, int pid, unsigned cpu, bool is_switch,
		    struct diag *d)
{
	int fd = perfevent_open(a, pid, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 && !is_switch && a->build_id && (fd == -EINVAL || fd == -E2BIG)) {
		a->build_id = 0; /* kernels before 5.12 */
		fd = perfevent_open(a, pid, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
	}
	if (fd < 0) {
		if (fd == -EACCES || fd == -EPERM)
			return diag_set(d, fd, 0, "no permission to profile: %s", paranoid_advice());
		if (fd == -ESRCH)
			return diag_set(d, fd, 0, "process %d does not exist", pid);
		return diag_set(d, fd, 0, "perf_event_open failed for pid %d on cpu %u: %s", pid, cpu,
				strerror(-fd));
	}
	add_fd(s, fd);
	if (is_switch) {
		uint64_t id;
		if (ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0) {
			s->switch_ids = xgrow(s->switch_ids, sizeof(*s->switch_ids), s->nswitch_ids + 1,
					      &s->switch_ids_cap);
			s->switch_ids[s->nswitch_ids++] = id;
		}
	}
	if (s->ring_fd_of_cpu[cpu] < 0) {
		int err = perfring_map(&s->rings[cpu], fd, s->o.ring_pages);
		if (err)
			return diag_set(d, err, 0, "cannot map the perf ring buffer: %s (try fewer pages)",
					strerror(-err));
		s->ring_fd_of_cpu[cpu] = fd;
	} else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, s->ring_fd_of_cpu[cpu]) != 0) {
		return diag_set(d, -errno, 0, "cannot share the perf ring buffer: %s", strerror(errno));
	}
	s->st.nevents++;
	return 0;
}

static int open_target(struct sampler *s, int pid, bool enable_on_exec, struct diag *d)
{
	struct perf_event_attr a;
	for (unsigned cpu = 0; cpu < s->ncpus; cpu++) {
		attr_init(&a, &s->o, s->sample_type, true, enable_on_exec);
		if (s->o.event == SAMPLER_CYCLES && !s->st.fell_back) {
			a.type = PERF_TYPE_HARDWARE;
			a.config = PERF_COUNT_HW_CPU_CYCLES;
			int fd = perfevent_open(&a, pid, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
			if (fd >= 0) {
				close(fd);
			} else {
				s->st.fell_back = true;
				attr_init(&a, &s->o, s->sample_type, true, enable_on_exec);
			}
		} else if (s->o.event == SAMPLER_CYCLES) {
			attr_init(&a, &s->o, s->sample_type, true, enable_on_exec);
		}
		int err = open_one(s, &a, pid, cpu, false, d);
		if (err)
			return err;
		if (s->o.off_cpu) {
			attr_init(&a, &s->o, s->sample_type, false, enable_on_exec);
			a.config = PERF_COUNT_SW_CONTEXT_SWITCHES;
			a.freq = 0;
			a.sample_period = 1;
			err = open_one(s, &a, pid, cpu, true, d);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Every thread of pid (inherit then covers the threads made later). */
static int open_process(struct sampler *s, int pid, bool enable_on_exec, struct diag *d)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *dir = opendir(path);
	if (!dir) {
		if (errno == ENOENT)
			return diag_set(d, -ESRCH, 0, "process %d does not exist", pid);
		return diag_set(d, -errno, 0, "cannot read %s: %s", path, strerror(errno));
	}
	int err = 0, n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL && !err) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		err = open_target(s, (int)tid, enable_on_exec, d);
		if (err == -ESRCH) /* the thread ended meanwhile */
			err = 0;
		n++;
	}
	closedir(dir);
	if (!err && n == 0)
		return diag_set(d, -ESRCH, 0, "process %d does not exist", pid);
	return err;
}

int sampler_open(struct sampler **out, const struct sampler_options *o, const pid_t *pids,
		 size_t npids, bool system, bool enable_on_exec, struct diag *d)
{
	struct sampler *s = xcalloc(1, sizeof(*s));
	s->o = *o;
	if (!s->o.ring_pages)
		s->o.ring_pages = o->callgraph == SAMPLER_CG_FP ? 128 : 1024;
	if (!s->o.freq)
		s->o.freq = 99;
	long n = sysconf(_SC_NPROCESSORS_CONF);
	s->ncpus = n > 0 ? (unsigned)n : 1;
	s->st.ncpus = s->ncpus;
	s->rings = xcalloc(s->ncpus, sizeof(*s->rings));
	s->ring_fd_of_cpu = xmalloc(s->ncpus * sizeof(int));
	for (unsigned i = 0; i < s->ncpus; i++)
		s->ring_fd_of_cpu[i] = -1;
	s->sample_type = SAMPLE_TYPE;
	if (o->callgraph != SAMPLER_CG_FP)
		s->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;

	int err = 0;
	if (system)
		err = open_target(s, -1, false, d);
	for (size_t i = 0; i < npids && !err; i++)
		err = open_process(s, (int)pids[i], enable_on_exec, d);
	if (err) {
		sampler_close(s);
		return err;
	}
	s->pfds = xcalloc(s->ncpus, sizeof(*s->pfds));
	*out = s;
	return 0;
}

static int ioctl_all(struct sampler *s, unsigned long req)
{
	for (size_t i = 0; i < s->nfds; i++)
		if (ioctl(s->fds[i], req, 0) != 0)
			return -errno;
	return 0;
}

int sampler_enable(struct sampler *s)
{
	return ioctl_all(s, PERF_EVENT_IOC_ENABLE);
}

int sampler_disable(struct sampler *s)
{
	return ioctl_all(s, PERF_EVENT_IOC_DISABLE);
}

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t rd64(struct reader *r)
{
	uint64_t v = 0;
	if (r->end - r->p < 8) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p, 8);
	r->p += 8;
	return v;
}

static bool is_switch_id(const struct sampler *s, uint64_t id)
{
	for (size_t i = 0; i < s->nswitch_ids; i++)
		if (s->switch_ids[i] == id)
			return true;
	return false;
}

static void handle_sample(struct sampler *s, const struct perf_event_header *h,
			  const struct sampler_sink *sink)
{
	struct reader r = {(const unsigned char *)(h + 1), (const unsigned char *)h + h->size, false};
	struct sampler_sample smp = {0};
	uint64_t ip = rd64(&r);
	uint64_t pt = rd64(&r);
	smp.pid = (uint32_t)pt;
	smp.tid = (uint32_t)(pt >> 32);
	smp.time = rd64(&r);
	uint64_t id = rd64(&r);
	smp.cpu = (uint32_t)rd64(&r);
	smp.period = rd64(&r);
	uint64_t nr = rd64(&r);
	if (r.bad || nr > (uint64_t)(r.end - r.p) / 8)
		return;
	smp.callchain = (const uint64_t *)r.p;
	smp.ncallchain = (size_t)nr;
	r.p += nr * 8;
	uint64_t regs_local[SYMBOLIZER_NREGS];
	if (s->sample_type & PERF_SAMPLE_REGS_USER) {
		uint64_t abi = rd64(&r);
		if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
			for (int i = 0; i < SYMBOLIZER_NREGS; i++)
				regs_local[i] = rd64(&r);
			smp.regs = regs_local;
		}
	}
	if (s->sample_type & PERF_SAMPLE_STACK_USER) {
		uint64_t size = rd64(&r);
		if (size && size <= (uint64_t)(r.end - r.p)) {
			const unsigned char *data = r.p;
			r.p += size;
			uint64_t dyn = rd64(&r);
			if (!r.bad && dyn <= size) {
				smp.stack = data;
				smp.stack_len = (size_t)dyn;
			}
		}
	}
	if (r.bad)
		return;
	smp.ip = ip;
	smp.context_switch = s->nswitch_ids && is_switch_id(s, id);
	s->st.samples++;
	if (sink->sample)
		sink->sample(sink->ctx, &smp);
}

/* The sample_id trailer of side-band records: pid/tid, time, id, cpu. */
static void read_trailer(const struct perf_event_header *h, uint32_t *tid, uint64_t *time)
{
	const unsigned char *end = (const unsigned char *)h + h->size;
	uint64_t v[4];
	if (h->size < sizeof(*h) + sizeof(v)) {
		*tid = 0;
		*time = 0;
		return;
	}
	memcpy(v, end - sizeof(v), sizeof(v));
	*tid = (uint32_t)(v[0] >> 32);
	*time = v[1];
}

static void handle_record(struct sampler *s, const struct perf_event_header *h,
			  const struct sampler_sink *sink)
{
	s->st.records++;
	const unsigned char *p = (const unsigned char *)(h + 1);
	size_t len = h->size - sizeof(*h);
	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		handle_sample(s, h, sink);
		break;
	case PERF_RECORD_MMAP2: {
		struct {
			uint32_t pid, tid;
			uint64_t addr, len, pgoff;
			unsigned char ids[24];
			uint32_t prot, flags;
		} m;
		if (len < sizeof(m) + 1 || !sink->mmap)
			break;
		memcpy(&m, p, sizeof(m));
		const char *name = (const char *)p + sizeof(m);
		size_t maxname = len - sizeof(m);
		if (!memchr(name, '\0', maxname))
			break;
		const unsigned char *bid = NULL;
		size_t bidlen = 0;
		if (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
			bidlen = m.ids[0] > 20 ? 20 : m.ids[0];
			bid = m.ids + 4;
		}
		sink->mmap(sink->ctx, m.pid, m.addr, m.len, m.pgoff, name, bid, bidlen,
			   (m.prot & 4 /* PROT_EXEC */) != 0);
		break;
	}
	case PERF_RECORD_COMM: {
		uint32_t ids[2];
		if (len < sizeof(ids) + 1 || !sink->comm)
			break;
		memcpy(ids, p, sizeof(ids));
		const char *name = (const char *)p + sizeof(ids);
		if (!memchr(name, '\0', len - sizeof(ids)))
			break;
		sink->comm(sink->ctx, ids[0], ids[1], name, (h->misc & PERF_RECORD_MISC_COMM_EXEC) != 0);
		break;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		uint32_t ids[4];
		if (len < sizeof(ids))
			break;
		memcpy(ids, p, sizeof(ids));
		if (h->type == PERF_RECORD_FORK && sink->fork)
			sink->fork(sink->ctx, ids[0], ids[1], ids[2]);
		else if (h->type == PERF_RECORD_EXIT && sink->exit)
			sink->exit(sink->ctx, ids[0], ids[2]);
		break;
	}
	case PERF_RECORD_LOST: {
		uint64_t v[2];
		if (len >= sizeof(v)) {
			memcpy(v, p, sizeof(v));
			s->st.lost += v[1];
		}
		break;
	}
	case PERF_RECORD_THROTTLE:
		s->st.throttled++;
		break;
	case PERF_RECORD_SWITCH: {
		if (!sink->switch_cpu)
			break;
		uint32_t tid;
		uint64_t time;
		read_trailer(h, &tid, &time);
		uint64_t v0;
		memcpy(&v0, (const unsigned char *)h + h->size - 32, 8);
		sink->switch_cpu(sink->ctx, (uint32_t)v0, tid, time,
				 (h->misc & PERF_RECORD_MISC_SWITCH_OUT) != 0,
				 (h->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0);
		break;
	}
	default:
		break;
	}
}

/* A record's timestamp: in a sample right after ip and pid/tid; in other
 * records in the sample_id trailer (pid/tid, time, id, cpu). */
static uint64_t record_time(const struct perf_event_header *h)
{
	uint64_t t = 0;
	if (h->type == PERF_RECORD_SAMPLE) {
		if (h->size >= sizeof(*h) + 24)
			memcpy(&t, (const unsigned char *)(h + 1) + 16, 8);
	} else if (h->size >= sizeof(*h) + 32) {
		memcpy(&t, (const unsigned char *)h + h->size - 24, 8);
	}
	return t;
}

/* Hands out the records now in the rings in time order (each ring is in
 * order; this merges them), so a sample is never seen before the mmap or
 * exec that happened before it on another CPU. */
int sampler_drain(struct sampler *s, const struct sampler_sink *sink)
{
	enum { MAX_RINGS = 1024 };
	const struct perf_event_header *cur[MAX_RINGS];
	uint64_t done[MAX_RINGS], when[MAX_RINGS];
	unsigned nr = s->ncpus < MAX_RINGS ? s->ncpus : MAX_RINGS;
	for (unsigned i = 0; i < nr; i++) {
		cur[i] = s->rings[i].meta ? perfring_next(&s->rings[i]) : NULL;
		when[i] = cur[i] ? record_time(cur[i]) : 0;
		done[i] = s->rings[i].tail;
	}
	int n = 0;
	for (;;) {
		unsigned best = nr;
		for (unsigned i = 0; i < nr; i++)
			if (cur[i] && (best == nr || when[i] < when[best]))
				best = i;
		if (best == nr)
			break;
		struct perfring *r = &s->rings[best];
		handle_record(s, cur[best], sink);
		done[best] = r->tail; /* the end of the record just handled */
		if (++n % 256 == 0)
			perfring_consume_to(r, done[best]);
		cur[best] = perfring_next(r);
		when[best] = cur[best] ? record_time(cur[best]) : 0;
	}
	for (unsigned i = 0; i < nr; i++)
		if (s->rings[i].meta)
			perfring_consume_to(&s->rings[i], done[i]);
	return n;
}

int sampler_poll(struct sampler *s, int timeout_ms, const struct sampler_sink *sink)
{
	nfds_t n = 0;
	for (unsigned cpu = 0; cpu < s->ncpus; cpu++)
		if (s->ring_fd_of_cpu[cpu] >= 0)
			s->pfds[n++] = (struct pollfd){.fd = s->ring_fd_of_cpu[cpu], .events = POLLIN};
	int rc = poll(s->pfds, n, timeout_ms);
	if (rc < 0)
		return -errno;
	return sampler_drain(s, sink);
}

void sampler_get_stats(const struct sampler *s, struct sampler_stats *st)
{
	*st = s->st;
}

void sampler_close(struct sampler *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->ncpus; i++)
		perfring_unmap(&s->rings[i]);
	for (size_t i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	free(s->fds);
	free(s->switch_ids);
	free(s->rings);
	free(s->ring_fd_of_cpu);
	free(s->pfds);
	free(s);
}
