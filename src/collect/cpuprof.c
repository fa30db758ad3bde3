/* cpuprof: samples -> aggregated stacks -> profile (see cpuprof.h).
 * Tables are foldtabs over small binary keys, whose count field holds an
 * index (plus one) into the arrays kept here: locations keyed by (module,
 * address), stacks keyed by (pid, tid, location indexes), threads by tid. */
#include "collect/cpuprof.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "model/foldtab.h"

enum { MAX_FRAMES = 1024 };

#define CONTEXT_MAX ((uint64_t)-4095)

struct cloc {
	struct sym_frame *frames; /* copied array; strings owned by the symbolizer */
	size_t nframes;
	uint32_t module_id;
	const char *module, *build_id;
	uint64_t map_start, map_limit, map_offset;
	uint64_t address;
};

struct cstack {
	uint32_t pid, tid;
	uint64_t samples, cpu_ns, off_ns;
};

struct cthread {
	uint32_t pid, tid;
	char comm[32];
	/* off-CPU: the stack it left the CPU with, and when */
	uint32_t pending_stack; /* index + 1, 0 = none */
	uint64_t out_time;
};

struct cpuprof {
	struct cpuprof_options o;
	struct symbolizer *sym;
	struct foldtab loc_index, stack_index, thread_index, known_pids;
	struct cloc *locs;
	size_t nlocs, locs_cap;
	struct cstack *stacks;
	size_t nstacks, stacks_cap;
	struct cthread *threads;
	size_t nthreads, threads_cap;
	uint64_t ips[MAX_FRAMES], fp_ips[MAX_FRAMES];
	uint32_t key[MAX_FRAMES + 2];
	struct cpuprof_stats st;
};

struct cpuprof *cpuprof_new(const struct cpuprof_options *o, struct symbolizer *sym)
{
	struct cpuprof *c = xcalloc(1, sizeof(*c));
	c->o = *o;
	c->sym = sym;
	foldtab_init(&c->loc_index);
	foldtab_init(&c->stack_index);
	foldtab_init(&c->thread_index);
	foldtab_init(&c->known_pids);
	return c;
}

void cpuprof_free(struct cpuprof *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nlocs; i++)
		free(c->locs[i].frames);
	free(c->locs);
	free(c->stacks);
	free(c->threads);
	foldtab_release(&c->loc_index);
	foldtab_release(&c->stack_index);
	foldtab_release(&c->thread_index);
	foldtab_release(&c->known_pids);
	free(c);
}

static struct cthread *thread_get(struct cpuprof *c, uint32_t pid, uint32_t tid)
{
	struct fold_entry *e = foldtab_upsert(&c->thread_index, (const char *)&tid, sizeof(tid));
	if (!e->count) {
		c->threads = xgrow(c->threads, sizeof(*c->threads), c->nthreads + 1, &c->threads_cap);
		struct cthread *t = &c->threads[c->nthreads];
		memset(t, 0, sizeof(*t));
		t->pid = pid;
		t->tid = tid;
		e->count = ++c->nthreads;
	}
	struct cthread *t = &c->threads[e->count - 1];
	if (pid)
		t->pid = pid;
	return t;
}

static void read_comm(int pid, int tid, char *out, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)n, f)) {
		size_t l = strlen(out);
		if (l && out[l - 1] == '\n')
			out[l - 1] = '\0';
	}
	fclose(f);
}

/* The first time a pid shows up without its mappings having been seen,
 * read them from /proc while it is still alive. */
static void ensure_process(struct cpuprof *c, uint32_t pid)
{
	struct fold_entry *e = foldtab_upsert(&c->known_pids, (const char *)&pid, sizeof(pid));
	if (e->count)
		return;
	e->count = 1;
	c->st.processes++;
	if (pid && !c->o.offline)
		symbolizer_load_proc(c->sym, (int)pid);
}

static uint32_t location_of(struct cpuprof *c, uint32_t pid, uint64_t addr, bool is_return)
{
	struct sym_location sl;
	int err = symbolizer_lookup(c->sym, (int)pid, addr, is_return, &sl);
	struct {
		uint32_t module, pid;
		uint64_t addr;
	} k;
	if (err || !sl.module_id) {
		k.module = 0;
		k.pid = pid;
		k.addr = addr;
		c->st.unknown += err != 0;
	} else {
		k.module = sl.module_id;
		k.pid = 0;
		k.addr = sl.rel_addr;
	}
	struct fold_entry *e = foldtab_upsert(&c->loc_index, (const char *)&k, sizeof(k));
	if (!e->count) {
		c->locs = xgrow(c->locs, sizeof(*c->locs), c->nlocs + 1, &c->locs_cap);
		struct cloc *l = &c->locs[c->nlocs];
		memset(l, 0, sizeof(*l));
		l->address = addr;
		if (!err) {
			l->nframes = sl.nframes;
			if (sl.nframes) {
				l->frames = xmalloc(sl.nframes * sizeof(*l->frames));
				memcpy(l->frames, sl.frames, sl.nframes * sizeof(*l->frames));
			}
			l->module_id = sl.module_id;
			l->module = sl.module;
			l->build_id = sl.build_id;
			l->map_start = sl.map_start;
			l->map_limit = sl.map_limit;
			l->map_offset = sl.map_offset;
		}
		e->count = ++c->nlocs;
	}
	return (uint32_t)(e->count - 1);
}

/* Unwinds a sample into c->ips, leaf first; returns the frame count. */
static size_t unwind_sample(struct cpuprof *c, const struct sampler_sample *s)
{
	size_t n = 0, nfp = 0;
	uint64_t context = 0;
	for (size_t i = 0; i < s->ncallchain; i++) {
		uint64_t ip = s->callchain[i];
		if (ip >= CONTEXT_MAX) {
			context = ip;
			continue;
		}
		if (context == (uint64_t)PERF_CONTEXT_KERNEL && n < MAX_FRAMES)
			c->ips[n++] = ip;
		else if (context == (uint64_t)PERF_CONTEXT_USER && nfp < MAX_FRAMES)
			c->fp_ips[nfp++] = ip;
	}
	bool want_dwarf = c->o.callgraph != SAMPLER_CG_FP && s->regs && s->stack_len;
	size_t nuser = 0;
	bool truncated = false;
	if (want_dwarf) {
		size_t got = 0;
		if (symbolizer_unwind(c->sym, (int)s->pid, s->regs, s->stack, s->stack_len, c->ips + n,
				      MAX_FRAMES - n, &got, &truncated) == 0)
			nuser = got;
		/* auto: frame pointers win where CFI gave up earlier */
		if (c->o.callgraph == SAMPLER_CG_AUTO && truncated && nfp > nuser) {
			memcpy(c->ips + n, c->fp_ips, nfp * sizeof(uint64_t));
			nuser = nfp;
			truncated = false;
		}
	} else if (nfp) {
		size_t take = nfp < MAX_FRAMES - n ? nfp : MAX_FRAMES - n;
		memcpy(c->ips + n, c->fp_ips, take * sizeof(uint64_t));
		nuser = take;
	} else if (!n && s->ip) {
		c->ips[n++] = s->ip;
	}
	if (nuser) {
		c->st.user_unwound++;
		c->st.truncated += truncated;
	}
	return n + nuser;
}

/* Returns the index of the stack s unwinds to (counting it), or -1. */
static long stack_of(struct cpuprof *c, const struct sampler_sample *s)
{
	ensure_process(c, s->pid);
	size_t n = unwind_sample(c, s);
	if (!n)
		return -1;
	c->key[0] = s->pid;
	c->key[1] = s->tid;
	for (size_t i = 0; i < n; i++)
		c->key[2 + i] = location_of(c, s->pid, c->ips[i], i > 0);
	struct fold_entry *e = foldtab_upsert(&c->stack_index, (const char *)c->key, (n + 2) * sizeof(uint32_t));
	if (!e->count) {
		c->stacks = xgrow(c->stacks, sizeof(*c->stacks), c->nstacks + 1, &c->stacks_cap);
		c->stacks[c->nstacks] = (struct cstack){s->pid, s->tid, 0, 0, 0};
		e->count = ++c->nstacks;
	}
	return (long)e->count - 1;
}

static void on_sample(void *ctx, const struct sampler_sample *s)
{
	struct cpuprof *c = ctx;
	long idx = stack_of(c, s);
	if (idx < 0)
		return;
	struct cthread *t = thread_get(c, s->pid, s->tid);
	if (s->context_switch) {
		t->pending_stack = (uint32_t)idx + 1;
		t->out_time = s->time;
		return;
	}
	c->stacks[idx].samples++;
	c->stacks[idx].cpu_ns += s->period;
	c->st.samples++;
}

/* Off-CPU time is the time a thread was blocked: from the context-switch
 * sample that took its stack to the record of it coming back. A thread
 * that was preempted while runnable was waiting for a CPU, not blocked,
 * and is not counted. */
static void on_switch(void *ctx, uint32_t pid, uint32_t tid, uint64_t time, bool out, bool preempted)
{
	struct cpuprof *c = ctx;
	(void)pid;
	const struct fold_entry *e = foldtab_find(&c->thread_index, (const char *)&tid, sizeof(tid));
	if (!e)
		return;
	struct cthread *t = &c->threads[e->count - 1];
	if (out) {
		if (preempted)
			t->pending_stack = 0;
		return;
	}
	if (t->pending_stack && time > t->out_time) {
		c->stacks[t->pending_stack - 1].off_ns += time - t->out_time;
		c->st.switches++;
	}
	t->pending_stack = 0;
}

static void on_mmap(void *ctx, uint32_t pid, uint64_t start, uint64_t len, uint64_t pgoff,
		    const char *path, const unsigned char *build_id, size_t build_id_len, bool exec)
{
	struct cpuprof *c = ctx;
	struct fold_entry *e = foldtab_upsert(&c->known_pids, (const char *)&pid, sizeof(pid));
	if (!e->count) {
		e->count = 1; /* seen from its mmaps: no need to read /proc */
		c->st.processes++;
	}
	symbolizer_mmap(c->sym, (int)pid, start, len, pgoff, path, build_id, build_id_len, exec);
}

static void on_comm(void *ctx, uint32_t pid, uint32_t tid, const char *comm, bool exec)
{
	struct cpuprof *c = ctx;
	if (exec && pid == tid)
		symbolizer_exec(c->sym, (int)pid);
	struct cthread *t = thread_get(c, pid, tid);
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
}

static void on_fork(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid)
{
	struct cpuprof *c = ctx;
	struct cthread *t = thread_get(c, pid, tid);
	if (pid != ppid) {
		/* a new process: it starts with its parent's address space */
		symbolizer_fork(c->sym, (int)ppid, (int)pid);
		struct fold_entry *e = foldtab_upsert(&c->known_pids, (const char *)&pid, sizeof(pid));
		if (!e->count) {
			e->count = 1;
			c->st.processes++;
		}
		const struct fold_entry *pe = foldtab_find(&c->thread_index, (const char *)&ppid, sizeof(ppid));
		if (pe && !t->comm[0])
			memcpy(t->comm, c->threads[pe->count - 1].comm, sizeof(t->comm));
	} else if (!t->comm[0] && !c->o.offline) {
		read_comm((int)pid, (int)tid, t->comm, sizeof(t->comm));
	}
}

void cpuprof_sink(struct cpuprof *c, struct sampler_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	sink->sample = on_sample;
	sink->mmap = on_mmap;
	sink->comm = on_comm;
	sink->fork = on_fork;
	sink->switch_cpu = on_switch;
	sink->ctx = c;
}

int cpuprof_add_process(struct cpuprof *c, int pid)
{
	struct fold_entry *e = foldtab_upsert(&c->known_pids, (const char *)&pid, sizeof(pid));
	if (!e->count) {
		e->count = 1;
		c->st.processes++;
	}
	int err = symbolizer_load_proc(c->sym, pid);
	struct cthread *t = thread_get(c, (uint32_t)pid, (uint32_t)pid);
	read_comm(pid, pid, t->comm, sizeof(t->comm));
	return err;
}

static const char *thread_name(const struct cpuprof *c, uint32_t tid)
{
	const struct fold_entry *e = foldtab_find(&c->thread_index, (const char *)&tid, sizeof(tid));
	if (!e)
		return NULL;
	const char *n = c->threads[e->count - 1].comm;
	return n[0] ? n : NULL;
}

int cpuprof_build(struct cpuprof *c, struct profile *out, int64_t time_ns, int64_t duration_ns)
{
	struct profile p;
	profile_init(&p);
	profile_add_sample_type(&p, "samples", "count");
	profile_add_sample_type(&p, "cpu", "nanoseconds");
	size_t nvalues = 2;
	if (c->o.off_cpu) {
		profile_add_sample_type(&p, "off_cpu", "nanoseconds");
		profile_add_sample_type(&p, "wall", "nanoseconds");
		nvalues = 4;
		p.default_sample_type = profile_interns(&p, "wall");
	} else {
		p.default_sample_type = profile_interns(&p, "cpu");
	}
	p.period_type.type = profile_interns(&p, "cpu");
	p.period_type.unit = profile_interns(&p, "nanoseconds");
	p.period = c->o.freq ? 1000000000 / c->o.freq : 0;
	p.time_nanos = time_ns;
	p.duration_nanos = duration_ns;

	/* mappings, one per module */
	uint64_t *mapping_of = xcalloc(c->nlocs + 1, sizeof(uint64_t));
	struct foldtab mods;
	foldtab_init(&mods);
	uint64_t *loc_ids = xcalloc(c->nlocs + 1, sizeof(uint64_t));
	struct profile_line *lines = NULL;
	size_t lines_cap = 0;
	int err = 0;
	for (size_t i = 0; i < c->nlocs && !err; i++) {
		const struct cloc *l = &c->locs[i];
		uint64_t mid = 0;
		if (l->module) {
			struct fold_entry *e = foldtab_upsert(&mods, (const char *)&l->module_id, sizeof(l->module_id));
			if (!e->count) {
				unsigned flags = PROFILE_MAPPING_HAS_FUNCTIONS | PROFILE_MAPPING_HAS_FILENAMES |
						 PROFILE_MAPPING_HAS_LINE_NUMBERS | PROFILE_MAPPING_HAS_INLINE_FRAMES;
				e->count = profile_add_mapping(&p, l->map_start, l->map_limit, l->map_offset,
							       profile_interns(&p, l->module),
							       profile_interns(&p, l->build_id ? l->build_id : ""),
							       flags);
			}
			mid = e->count;
		}
		mapping_of[i] = mid;
		lines = xgrow(lines, sizeof(*lines), l->nframes + 1, &lines_cap);
		size_t nl = 0;
		for (size_t k = 0; k < l->nframes; k++) {
			const struct sym_frame *f = &l->frames[k];
			const char *name = f->function;
			char fallback[64];
			if (!name) {
				snprintf(fallback, sizeof(fallback), "0x%llx", (unsigned long long)l->address);
				name = fallback;
			}
			uint64_t fid = profile_intern_function(&p, name, name, f->file ? f->file : "", 0);
			lines[nl++] = (struct profile_line){fid, f->line, 0};
		}
		loc_ids[i] = profile_add_location(&p, mid, l->address, lines, nl, 0);
		if (!loc_ids[i])
			err = -EINVAL;
	}
	free(lines);
	free(mapping_of);
	foldtab_release(&mods);

	/* samples: walk the stack index to recover each stack's locations */
	uint64_t *locs = xmalloc(MAX_FRAMES * sizeof(uint64_t));
	uint32_t k_pid = profile_interns(&p, "pid"), k_tid = profile_interns(&p, "thread"),
		 k_name = profile_interns(&p, "thread_name");
	for (size_t i = 0; i < c->stack_index.cap && !err; i++) {
		const struct fold_entry *e = &c->stack_index.slots[i];
		if (!e->key)
			continue;
		const struct cstack *s = &c->stacks[e->count - 1];
		if (!s->samples && !s->off_ns)
			continue;
		const uint32_t *k = (const uint32_t *)(const void *)e->key;
		size_t n = e->len / sizeof(uint32_t) - 2;
		for (size_t j = 0; j < n; j++)
			locs[j] = loc_ids[k[2 + j]];
		int64_t v[4] = {(int64_t)s->samples, (int64_t)s->cpu_ns, (int64_t)s->off_ns,
				(int64_t)(s->cpu_ns + s->off_ns)};
		struct profile_label labels[3] = {
			{k_pid, 0, s->pid, 0},
			{k_tid, 0, s->tid, 0},
		};
		size_t nlabels = 2;
		const char *tn = thread_name(c, s->tid);
		if (tn)
			labels[nlabels++] = (struct profile_label){k_name, profile_interns(&p, tn), 0, 0};
		err = profile_add_sample(&p, v, nvalues, locs, n, labels, nlabels);
	}
	free(locs);
	free(loc_ids);
	if (err) {
		profile_release(&p);
		return err;
	}
	*out = p;
	return 0;
}

void cpuprof_get_stats(const struct cpuprof *c, struct cpuprof_stats *st)
{
	*st = c->st;
	st->stacks = c->nstacks;
	st->locations = c->nlocs;
}
