/* perfdata-import: perf.data records -> cpuprof -> profile (see
 * perfdata-import.h). The cpuprof is created at the first record after the
 * attributes, when it is known whether samples carry user registers and
 * stacks (DWARF) or only the kernel's callchain (frame pointers). */
#include "collect/perfdata-import.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "model/foldtab.h"
#include "symbolize/symbolize.h"

struct bid {
	unsigned char id[20];
	size_t len;
	int checked;  /* 0: not yet; 1: the file on disk is the one recorded */
	char *cached; /* else perf's build-id cache copy of it, or NULL */
};

struct import {
	struct symbolizer *sym;
	struct cpuprof *cp;
	struct sampler_sink sink;
	bool dwarf;
	unsigned freq;
	uint64_t fixed_period;
	struct foldtab bid_index; /* path -> index + 1 into bids */
	struct bid *bids;
	size_t nbids, bids_cap;
	uint64_t first_time, last_time;
	uint64_t regs[SYMBOLIZER_NREGS];
};

static int on_attr(void *ctx, const struct perfdata_attr *a)
{
	struct import *im = ctx;
	if ((a->sample_type & PERF_SAMPLE_REGS_USER) && (a->sample_type & PERF_SAMPLE_STACK_USER))
		im->dwarf = true;
	if (!im->freq && !im->fixed_period) {
		if (a->freq)
			im->freq = a->sample_period > 1000000 ? 1000000 : (unsigned)a->sample_period;
		else
			im->fixed_period = a->sample_period;
	}
	return 0;
}

static struct cpuprof *prof(struct import *im)
{
	if (!im->cp) {
		struct cpuprof_options o = {
			.callgraph = im->dwarf ? SAMPLER_CG_DWARF : SAMPLER_CG_FP,
			.freq = im->freq,
			.offline = true,
		};
		im->cp = cpuprof_new(&o, im->sym);
		cpuprof_sink(im->cp, &im->sink);
	}
	return im->cp;
}

/* perf's registers, one per bit of mask in ascending order, into the
 * SYMBOLIZER_REGS_MASK order; NULL without the stack and instruction
 * pointers, which every unwind starts from. */
static const uint64_t *map_regs(struct import *im, const struct perfdata_sample *s)
{
	uint64_t mask = s->attr->sample_regs_user;
	if (!s->regs || s->regs_abi != PERF_SAMPLE_REGS_ABI_64)
		return NULL;
	const uint64_t need = (1ULL << 7) | (1ULL << 8); /* PERF_REG_X86_SP, _IP */
	if ((mask & need) != need)
		return NULL;
	size_t k = 0;
	for (unsigned bit = 0; bit < 64; bit++) {
		if (!((SYMBOLIZER_REGS_MASK >> bit) & 1))
			continue;
		uint64_t v = 0;
		if ((mask >> bit) & 1) {
			size_t at = (size_t)__builtin_popcountll(mask & ((1ULL << bit) - 1));
			if (at < s->nregs)
				v = s->regs[at];
		}
		if (k < SYMBOLIZER_NREGS)
			im->regs[k++] = v;
	}
	return im->regs;
}

static int on_sample(void *ctx, const struct perfdata_sample *s)
{
	struct import *im = ctx;
	struct cpuprof *c = prof(im);
	(void)c;
	struct sampler_sample ss;
	memset(&ss, 0, sizeof(ss));
	ss.pid = s->pid;
	ss.tid = s->tid;
	ss.cpu = s->cpu;
	ss.time = s->time;
	ss.period = (s->attr->sample_type & PERF_SAMPLE_PERIOD) ? s->period : im->fixed_period;
	ss.ip = s->ip;
	ss.callchain = s->callchain;
	ss.ncallchain = s->ncallchain;
	if (im->dwarf && s->stack_len) {
		ss.regs = map_regs(im, s);
		if (ss.regs) {
			ss.stack = s->stack;
			ss.stack_len = s->stack_len;
		}
	}
	if (s->time) {
		if (!im->first_time || s->time < im->first_time)
			im->first_time = s->time;
		if (s->time > im->last_time)
			im->last_time = s->time;
	}
	im->sink.sample(im->sink.ctx, &ss);
	return 0;
}

/* Returns 1 when the ELF file at path has build id id, else 0. */
static int file_has_build_id(const char *path, const unsigned char *id, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	int same = 0;
	if (elf) {
		const void *bid;
		ssize_t n = dwelf_elf_gnu_build_id(elf, &bid);
		same = n >= (ssize_t)len && len && !memcmp(bid, id, len);
		elf_end(elf);
	}
	close(fd);
	return same;
}

/* The file to symbolize a mapping of path with: path itself, unless it
 * was rebuilt or removed since the recording and perf's build-id cache
 * ($HOME/.debug, filled by perf record) holds the recorded copy. */
static const char *file_for(struct bid *b, const char *path)
{
	if (!b->checked) {
		b->checked = 1;
		const char *home = getenv("HOME");
		if (home && path[0] == '/' && !file_has_build_id(path, b->id, b->len)) {
			char hex[41];
			for (size_t i = 0; i < b->len; i++)
				snprintf(hex + 2 * i, 3, "%02x", b->id[i]);
			size_t n = strlen(home) + 64;
			char *alt = xmalloc(n);
			snprintf(alt, n, "%s/.debug/.build-id/%.2s/%s/elf", home, hex, hex + 2);
			if (file_has_build_id(alt, b->id, b->len))
				b->cached = alt;
			else
				free(alt);
		}
	}
	return b->cached ? b->cached : path;
}

static int on_mmap(void *ctx, const struct perfdata_mmap *m)
{
	struct import *im = ctx;
	prof(im);
	if (m->pid == (uint32_t)-1)
		return 0; /* the kernel and its modules: symbolized from kallsyms */
	const unsigned char *bid = m->build_id;
	size_t bidlen = m->build_id_len;
	const char *path = m->path;
	if (!bidlen && m->exec) {
		const struct fold_entry *e = foldtab_find(&im->bid_index, m->path, strlen(m->path));
		if (e) {
			struct bid *b = &im->bids[e->count - 1];
			bid = b->id;
			bidlen = b->len;
			path = file_for(b, m->path);
		}
	}
	im->sink.mmap(im->sink.ctx, m->pid, m->start, m->len, m->pgoff, path, bidlen ? bid : NULL,
		      bidlen, m->exec);
	return 0;
}

static int on_comm(void *ctx, uint32_t pid, uint32_t tid, const char *comm, bool exec)
{
	struct import *im = ctx;
	prof(im);
	im->sink.comm(im->sink.ctx, pid, tid, comm, exec);
	return 0;
}

static int on_fork(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid, uint32_t ptid)
{
	struct import *im = ctx;
	(void)ptid;
	prof(im);
	im->sink.fork(im->sink.ctx, pid, ppid, tid);
	return 0;
}

static int on_build_id(void *ctx, int32_t pid, const char *path, const unsigned char *id,
		       size_t len)
{
	struct import *im = ctx;
	(void)pid;
	if (!len || len > 20 || !path[0])
		return 0;
	struct fold_entry *e = foldtab_upsert(&im->bid_index, path, strlen(path));
	if (!e->count) {
		im->bids = xgrow(im->bids, sizeof(*im->bids), im->nbids + 1, &im->bids_cap);
		e->count = ++im->nbids;
	}
	struct bid *b = &im->bids[e->count - 1];
	memset(b, 0, sizeof(*b));
	memcpy(b->id, id, len);
	b->len = len;
	return 0;
}

/* Copies p into q with each sample's thread name (its thread_name label,
 * else "[unknown]") as an extra root frame, as perf script's comm is in
 * `perf script | kiln collapse`. Ids of mappings, functions and locations
 * stay the same (each is its position). Returns 0 or -EINVAL. */
static int add_comm_roots(const struct profile *p, struct profile *q)
{
	profile_init(q);
	for (size_t i = 0; i < p->nsample_types; i++)
		profile_add_sample_type(q, profile_str(p, p->sample_types[i].type),
					profile_str(p, p->sample_types[i].unit));
	q->default_sample_type = profile_interns(q, profile_str(p, p->default_sample_type));
	q->period_type.type = profile_interns(q, profile_str(p, p->period_type.type));
	q->period_type.unit = profile_interns(q, profile_str(p, p->period_type.unit));
	q->period = p->period;
	q->time_nanos = p->time_nanos;
	q->duration_nanos = p->duration_nanos;
	for (size_t i = 0; i < p->nmappings; i++) {
		const struct profile_mapping *m = &p->mappings[i];
		if (!profile_add_mapping(q, m->start, m->limit, m->offset,
					 profile_interns(q, profile_str(p, m->filename)),
					 profile_interns(q, profile_str(p, m->build_id)), m->flags))
			return -EINVAL;
	}
	for (size_t i = 0; i < p->nfunctions; i++) {
		const struct profile_function *f = &p->functions[i];
		if (!profile_add_function(q, profile_interns(q, profile_str(p, f->name)),
					  profile_interns(q, profile_str(p, f->system_name)),
					  profile_interns(q, profile_str(p, f->filename)), f->start_line))
			return -EINVAL;
	}
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct profile_location *l = &p->locations[i];
		if (!profile_add_location(q, l->mapping_id, l->address, profile_location_lines(p, l),
					  l->nlines, l->is_folded))
			return -EINVAL;
	}
	uint32_t k_name = profile_interns(q, "thread_name");
	struct foldtab roots; /* thread name -> its root location id */
	foldtab_init(&roots);
	uint64_t *locs = NULL;
	struct profile_label *labels = NULL;
	size_t locs_cap = 0, labels_cap = 0;
	int err = 0;
	for (size_t i = 0; i < p->nsamples && !err; i++) {
		const struct profile_sample *s = &p->samples[i];
		locs = xgrow(locs, sizeof(*locs), s->nlocs + 1, &locs_cap);
		labels = xgrow(labels, sizeof(*labels), s->nlabels + 1, &labels_cap);
		const char *name = "[unknown]";
		for (size_t k = 0; k < s->nlabels; k++) {
			struct profile_label l = p->labels[s->label_off + k];
			l.key = profile_interns(q, profile_str(p, l.key));
			if (l.str)
				l.str = profile_interns(q, profile_str(p, l.str));
			if (l.num_unit)
				l.num_unit = profile_interns(q, profile_str(p, l.num_unit));
			if (l.key == k_name && l.str)
				name = profile_str(p, p->labels[s->label_off + k].str);
			labels[k] = l;
		}
		memcpy(locs, p->sample_locs + s->loc_off, s->nlocs * sizeof(*locs));
		struct fold_entry *e = foldtab_upsert(&roots, name, strlen(name));
		if (!e->count) {
			struct profile_line line = {profile_intern_function(q, name, name, "", 0), 0, 0};
			e->count = profile_add_location(q, 0, 0, &line, 1, 0);
		}
		locs[s->nlocs] = e->count;
		err = profile_add_sample(q, profile_sample_values(p, i), p->nsample_types, locs,
					 s->nlocs + 1, labels, s->nlabels);
	}
	free(locs);
	free(labels);
	foldtab_release(&roots);
	return err;
}

int perfdata_import(int fd, struct profile *out, struct perfdata_import_stats *st, struct diag *d)
{
	struct symbolizer_options so = {0};
	int err = 0;
	struct import im;
	memset(&im, 0, sizeof(im));
	im.sym = symbolizer_new(&so, &err);
	if (!im.sym)
		return diag_set(d, err ? err : -ENOMEM, 0, "cannot start the symbolizer");
	foldtab_init(&im.bid_index);
	struct perfdata_sink sink = {
		.attr = on_attr,
		.sample = on_sample,
		.mmap = on_mmap,
		.comm = on_comm,
		.fork = on_fork,
		.build_id = on_build_id,
		.ctx = &im,
	};
	struct perfdata_stats fst;
	memset(&fst, 0, sizeof(fst));
	err = perfdata_read_fd(fd, &sink, &fst, d);
	if (!err) {
		struct profile p;
		int64_t dur = im.last_time > im.first_time ? (int64_t)(im.last_time - im.first_time) : 0;
		err = cpuprof_build(prof(&im), &p, 0, dur);
		if (err) {
			diag_set(d, err, 0, "cannot build the profile");
		} else {
			struct profile q;
			err = add_comm_roots(&p, &q);
			profile_release(&p);
			if (err) {
				profile_release(&q);
				diag_set(d, err, 0, "cannot build the profile");
			} else {
				*out = q;
			}
		}
	}
	if (st) {
		memset(st, 0, sizeof(*st));
		st->file = fst;
		st->dwarf = im.dwarf;
		if (im.cp)
			cpuprof_get_stats(im.cp, &st->prof);
	}
	cpuprof_free(im.cp);
	symbolizer_free(im.sym);
	foldtab_release(&im.bid_index);
	for (size_t i = 0; i < im.nbids; i++)
		free(im.bids[i].cached);
	free(im.bids);
	return err;
}
