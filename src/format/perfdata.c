/* perfdata: perf.data reader (see perfdata.h). The file is read through one
 * window of WINDOW bytes (pread, or a borrowed memory image); a record is
 * handed on as a pointer into the window, or into an aligned copy when the
 * window's bytes are not 8-byte aligned, so u64 arrays can be read in place.
 * Only files in this machine's byte order are read. */
#include "format/perfdata.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"

enum {
	WINDOW = 1 << 20,
	FILE_HEADER_SIZE = 104, /* magic, size, attr_size, 3 sections, 4 flag words */
	PIPE_HEADER_SIZE = 16,
	ATTR_SIZE_VER0 = 64,
	MAX_RECORD = 65536, /* a record's size is a u16 */
	MAX_IDS = 1 << 22,
	MAX_ATTRS = 4096,
};

/* perf's own record types (tools/perf/util/event.h), above the kernel's */
enum {
	REC_HEADER_ATTR = 64,
	REC_HEADER_TRACING_DATA = 66,
	REC_HEADER_BUILD_ID = 67,
	REC_AUXTRACE = 71,
	REC_COMPRESSED = 81,
	MAX_RECORD_TYPE = 128,
};

enum { FEAT_BUILD_ID = 2, FEAT_BITS = 256 };
#define MISC_BUILD_ID_SIZE (1u << 15) /* build id record carries its length */

static const char magic2[8] = {'P', 'E', 'R', 'F', 'I', 'L', 'E', '2'};

struct src {
	const unsigned char *mem; /* memory image, or NULL for fd */
	int fd;
	uint64_t size;
	unsigned char *win;
	uint64_t win_off;
	size_t win_len, win_cap;
};

struct idmap_entry {
	uint64_t id;
	size_t attr;
};

struct reader {
	struct src src;
	const struct perfdata_sink *sink;
	struct perfdata_stats st;
	struct diag *d;
	struct perfdata_attr *attrs;
	uint64_t **attr_ids; /* owned arrays behind attrs[i].ids */
	size_t nattrs, attrs_cap, attr_ids_cap;
	struct idmap_entry *idmap;
	size_t nidmap, idmap_cap, total_ids;
	bool idmap_sorted;
	uint64_t aligned[MAX_RECORD / 8];
};

/* ---- reading bytes -------------------------------------------------------- */

static int src_fill(struct reader *r, uint64_t off, size_t len)
{
	struct src *s = &r->src;
	size_t want = len > WINDOW ? len : WINDOW;
	if (s->win_cap < want) {
		free(s->win);
		s->win = xmalloc(want);
		s->win_cap = want;
	}
	if (want > s->size - off)
		want = (size_t)(s->size - off);
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(s->fd, s->win + got, want - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			s->win_len = 0;
			return diag_set(r->d, e, 0, "cannot read at offset %llu", (unsigned long long)(off + got));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	s->win_off = off;
	s->win_len = got;
	if (got < len)
		return diag_set(r->d, KILN_ERR_TRUNCATED, 0, "file shrank while being read (offset %llu)",
				(unsigned long long)(off + got));
	return 0;
}

/* Points *out at bytes [off, off + len) of the file (len <= MAX_RECORD);
 * valid until the next call. */
static int src_get(struct reader *r, uint64_t off, size_t len, const unsigned char **out,
		   const char *what)
{
	struct src *s = &r->src;
	if (off > s->size || len > s->size - off) {
		if (r->d)
			r->d->offset = off;
		return diag_set(r->d, KILN_ERR_TRUNCATED, 0,
				"%s at offset %llu (%zu bytes) ends past the end of the file (%llu bytes)",
				what, (unsigned long long)off, len, (unsigned long long)s->size);
	}
	if (s->mem) {
		*out = s->mem + off;
		return 0;
	}
	if (!(off >= s->win_off && off - s->win_off + len <= s->win_len)) {
		int err = src_fill(r, off, len);
		if (err)
			return err;
	}
	*out = s->win + (off - s->win_off);
	return 0;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int format_error(struct reader *r, uint64_t off, const char *msg)
{
	if (r->d)
		r->d->offset = off;
	return diag_set(r->d, KILN_ERR_FORMAT, 0, "%s (offset %llu)", msg, (unsigned long long)off);
}

/* A cursor over one record's payload. */
struct cur {
	const unsigned char *p;
	size_t left;
};

static bool cur_u64(struct cur *c, uint64_t *v)
{
	if (c->left < 8)
		return false;
	memcpy(v, c->p, 8);
	c->p += 8;
	c->left -= 8;
	return true;
}

static const unsigned char *cur_take(struct cur *c, uint64_t n)
{
	if (n > c->left)
		return NULL;
	const unsigned char *p = c->p;
	c->p += n;
	c->left -= (size_t)n;
	return p;
}

/* ---- attributes ----------------------------------------------------------- */

static void attr_decode(struct perfdata_attr *a, const unsigned char *p, size_t size)
{
	memset(a, 0, sizeof(*a));
	a->type = get32(p);
	a->size = (uint32_t)size;
	a->config = get64(p + 8);
	a->sample_period = get64(p + 16);
	a->sample_type = get64(p + 24);
	a->read_format = get64(p + 32);
	a->flags = get64(p + 40);
	a->freq = (a->flags >> 10) & 1;
	a->sample_id_all = (a->flags >> 18) & 1;
	if (size >= 80)
		a->branch_sample_type = get64(p + 72);
	if (size >= 88)
		a->sample_regs_user = get64(p + 80);
	if (size >= 92)
		a->sample_stack_user = get32(p + 88);
	if (size >= 104)
		a->sample_regs_intr = get64(p + 96);
}

static int attr_add(struct reader *r, const struct perfdata_attr *a, uint64_t *ids, size_t nids,
		    uint64_t off)
{
	if (r->nattrs >= MAX_ATTRS || nids > MAX_IDS - r->total_ids) {
		free(ids);
		if (r->d)
			r->d->offset = off;
		return diag_set(r->d, KILN_ERR_TOO_BIG, 0, "too many events or sample ids (offset %llu)",
				(unsigned long long)off);
	}
	r->attrs = xgrow(r->attrs, sizeof(*r->attrs), r->nattrs + 1, &r->attrs_cap);
	r->attr_ids = xgrow(r->attr_ids, sizeof(*r->attr_ids), r->nattrs + 1, &r->attr_ids_cap);
	r->attrs[r->nattrs] = *a;
	r->attrs[r->nattrs].ids = ids;
	r->attrs[r->nattrs].nids = nids;
	r->attr_ids[r->nattrs] = ids;
	r->idmap = xgrow(r->idmap, sizeof(*r->idmap), r->nidmap + nids, &r->idmap_cap);
	for (size_t i = 0; i < nids; i++)
		r->idmap[r->nidmap++] = (struct idmap_entry){ids[i], r->nattrs};
	r->total_ids += nids;
	r->idmap_sorted = false;
	r->nattrs++;
	r->st.nattrs = r->nattrs;
	if (r->sink->attr)
		return r->sink->attr(r->sink->ctx, &r->attrs[r->nattrs - 1]);
	return 0;
}

static int idmap_cmp(const void *a, const void *b)
{
	const struct idmap_entry *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct perfdata_attr *attr_by_id(struct reader *r, uint64_t id)
{
	if (!r->idmap_sorted) {
		qsort(r->idmap, r->nidmap, sizeof(*r->idmap), idmap_cmp);
		r->idmap_sorted = true;
	}
	size_t lo = 0, hi = r->nidmap;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->idmap[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nidmap && r->idmap[lo].id == id ? &r->attrs[r->idmap[lo].attr] : NULL;
}

/* The attrs section of a file: entries of attr_size bytes, each the attr
 * (its own size field says how long) followed by a section of ids. */
static int read_attrs(struct reader *r, uint64_t attr_size, uint64_t off, uint64_t size)
{
	if (attr_size < ATTR_SIZE_VER0 + 16 || attr_size > MAX_RECORD)
		return format_error(r, 16, "bad attribute size in the header");
	if (size % attr_size)
		return format_error(r, 24, "attribute section is not a whole number of attributes");
	uint64_t n = size / attr_size;
	if (n == 0)
		return format_error(r, 24, "no event attributes");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t at = off + i * attr_size;
		const unsigned char *p;
		int err = src_get(r, at, (size_t)attr_size, &p, "event attribute");
		if (err)
			return err;
		uint32_t asz = get32(p + 4);
		if (asz == 0)
			asz = ATTR_SIZE_VER0;
		if (asz < ATTR_SIZE_VER0 || asz + 16 != attr_size)
			return format_error(r, at + 4, "event attribute size disagrees with the header");
		struct perfdata_attr a;
		attr_decode(&a, p, asz);
		uint64_t ids_off = get64(p + asz), ids_size = get64(p + asz + 8);
		if (ids_size % 8 || ids_size / 8 > MAX_IDS)
			return format_error(r, at + asz, "bad sample id section");
		if (ids_off > r->src.size || ids_size > r->src.size - ids_off) {
			const unsigned char *q;
			return src_get(r, ids_off, (size_t)(ids_size > MAX_RECORD ? MAX_RECORD : ids_size), &q,
				       "sample id section");
		}
		size_t nids = (size_t)(ids_size / 8);
		uint64_t *ids = nids ? xmalloc(nids * 8) : NULL;
		for (size_t k = 0; k < nids; k++) {
			const unsigned char *q;
			err = src_get(r, ids_off + 8 * (uint64_t)k, 8, &q, "sample id");
			if (err) {
				free(ids);
				return err;
			}
			ids[k] = get64(q);
		}
		err = attr_add(r, &a, ids, nids, at);
		if (err)
			return err;
	}
	return 0;
}

/* PERF_RECORD_HEADER_ATTR (pipe mode): the attr, then its ids. */
static int read_attr_record(struct reader *r, const unsigned char *body, size_t len, uint64_t off)
{
	if (len < ATTR_SIZE_VER0)
		return format_error(r, off, "event attribute record too short");
	uint32_t asz = get32(body + 4);
	if (asz == 0)
		asz = ATTR_SIZE_VER0;
	if (asz < ATTR_SIZE_VER0 || asz > len || (len - asz) % 8)
		return format_error(r, off, "bad event attribute record");
	struct perfdata_attr a;
	attr_decode(&a, body, asz);
	size_t nids = (len - asz) / 8;
	uint64_t *ids = nids ? xmalloc(nids * 8) : NULL;
	for (size_t k = 0; k < nids; k++)
		ids[k] = get64(body + asz + 8 * k);
	return attr_add(r, &a, ids, nids, off);
}

/* ---- records -------------------------------------------------------------- */

static size_t popcount64(uint64_t v)
{
	return (size_t)__builtin_popcountll(v);
}

/* Fills s from a sample record's payload by a's sample_type; returns false
 * when the record is too short for what a says it holds. Fields after
 * STACK_USER are not needed and not read. */
static bool sample_decode(const struct perfdata_attr *a, const unsigned char *body, size_t len,
			  struct perfdata_sample *s)
{
	struct cur c = {body, len};
	uint64_t t = a->sample_type, v;
	s->attr = a;
	if ((t & PERF_SAMPLE_IDENTIFIER) && !cur_u64(&c, &s->id))
		return false;
	if ((t & PERF_SAMPLE_IP) && !cur_u64(&c, &s->ip))
		return false;
	if (t & PERF_SAMPLE_TID) {
		if (!cur_u64(&c, &v))
			return false;
		s->pid = (uint32_t)v;
		s->tid = (uint32_t)(v >> 32);
	}
	if ((t & PERF_SAMPLE_TIME) && !cur_u64(&c, &s->time))
		return false;
	if ((t & PERF_SAMPLE_ADDR) && !cur_u64(&c, &s->addr))
		return false;
	if ((t & PERF_SAMPLE_ID) && !cur_u64(&c, &s->id))
		return false;
	if ((t & PERF_SAMPLE_STREAM_ID) && !cur_u64(&c, &s->stream_id))
		return false;
	if (t & PERF_SAMPLE_CPU) {
		if (!cur_u64(&c, &v))
			return false;
		s->cpu = (uint32_t)v;
	}
	if ((t & PERF_SAMPLE_PERIOD) && !cur_u64(&c, &s->period))
		return false;
	if (t & PERF_SAMPLE_READ) {
		uint64_t rf = a->read_format;
		size_t per = 1 + !!(rf & PERF_FORMAT_ID) + !!(rf & (1u << 4) /* PERF_FORMAT_LOST */);
		uint64_t nvals = 1, skip;
		if (rf & PERF_FORMAT_GROUP) {
			if (!cur_u64(&c, &nvals))
				return false;
			skip = !!(rf & PERF_FORMAT_TOTAL_TIME_ENABLED) + !!(rf & PERF_FORMAT_TOTAL_TIME_RUNNING);
			if (nvals > len / 8 / per)
				return false;
			skip += nvals * per;
		} else {
			skip = per + !!(rf & PERF_FORMAT_TOTAL_TIME_ENABLED) +
			       !!(rf & PERF_FORMAT_TOTAL_TIME_RUNNING);
		}
		if (!cur_take(&c, skip * 8))
			return false;
	}
	if (t & PERF_SAMPLE_CALLCHAIN) {
		uint64_t nr;
		if (!cur_u64(&c, &nr) || nr > c.left / 8)
			return false;
		s->callchain = (const uint64_t *)(const void *)c.p;
		s->ncallchain = (size_t)nr;
		cur_take(&c, nr * 8);
	}
	if (t & PERF_SAMPLE_RAW) {
		if (c.left < 4)
			return false;
		uint32_t sz = get32(c.p);
		/* the kernel pads it so what follows stays 8-byte aligned */
		if ((4 + (uint64_t)sz) % 8 || !cur_take(&c, 4) || !cur_take(&c, sz))
			return false;
	}
	if (t & PERF_SAMPLE_BRANCH_STACK) {
		uint64_t nr;
		if (!cur_u64(&c, &nr))
			return false;
		if (a->branch_sample_type & (1u << 17) /* PERF_SAMPLE_BRANCH_HW_INDEX */) {
			if (!cur_take(&c, 8))
				return false;
		}
		if (nr > c.left / 24 || !cur_take(&c, nr * 24))
			return false;
	}
	if (t & PERF_SAMPLE_REGS_USER) {
		if (!cur_u64(&c, &s->regs_abi))
			return false;
		if (s->regs_abi) {
			size_t n = popcount64(a->sample_regs_user);
			const unsigned char *p = cur_take(&c, (uint64_t)n * 8);
			if (!p)
				return false;
			s->regs = (const uint64_t *)(const void *)p;
			s->nregs = n;
		}
	}
	if (t & PERF_SAMPLE_STACK_USER) {
		uint64_t sz;
		if (!cur_u64(&c, &sz))
			return false;
		if (sz) {
			const unsigned char *p = cur_take(&c, sz);
			uint64_t dyn;
			if (!p || !cur_u64(&c, &dyn))
				return false;
			s->stack = p;
			s->stack_len = (size_t)(dyn < sz ? dyn : sz);
		}
	}
	return true;
}

static int on_sample(struct reader *r, const unsigned char *body, size_t len, uint16_t misc)
{
	if (!r->nattrs) {
		r->st.bad_samples++;
		return 0;
	}
	const struct perfdata_attr *a = &r->attrs[0];
	if (r->nattrs > 1) {
		/* perf makes every event's sample id sit at the same place */
		uint64_t t = a->sample_type;
		size_t pos;
		if (t & PERF_SAMPLE_IDENTIFIER)
			pos = 0;
		else if (t & PERF_SAMPLE_ID)
			pos = !!(t & PERF_SAMPLE_IP) + !!(t & PERF_SAMPLE_TID) + !!(t & PERF_SAMPLE_TIME) +
			      !!(t & PERF_SAMPLE_ADDR);
		else
			pos = (size_t)-1;
		if (pos != (size_t)-1) {
			if (len < (pos + 1) * 8) {
				r->st.bad_samples++;
				return 0;
			}
			a = attr_by_id(r, get64(body + pos * 8));
			if (!a) {
				r->st.bad_samples++;
				return 0;
			}
		}
	}
	struct perfdata_sample s;
	memset(&s, 0, sizeof(s));
	s.misc = misc;
	if (!sample_decode(a, body, len, &s)) {
		r->st.bad_samples++;
		return 0;
	}
	r->st.samples++;
	return r->sink->sample ? r->sink->sample(r->sink->ctx, &s) : 0;
}

static int on_mmap(struct reader *r, uint32_t type, uint16_t misc, const unsigned char *body,
		   size_t len, uint64_t off)
{
	size_t fixed = type == PERF_RECORD_MMAP2 ? 64 : 32;
	if (len < fixed + 1)
		return format_error(r, off, "mmap record too short");
	struct perfdata_mmap m;
	memset(&m, 0, sizeof(m));
	m.pid = get32(body);
	m.tid = get32(body + 4);
	m.start = get64(body + 8);
	m.len = get64(body + 16);
	m.pgoff = get64(body + 24);
	if (type == PERF_RECORD_MMAP2) {
		if (misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
			m.build_id_len = body[32] > 20 ? 20 : body[32];
			m.build_id = body + 36;
		}
		m.prot = get32(body + 56);
		m.flags = get32(body + 60);
		m.exec = (m.prot & 4 /* PROT_EXEC */) != 0;
	} else {
		m.exec = !(misc & PERF_RECORD_MISC_MMAP_DATA);
	}
	m.path = (const char *)body + fixed;
	if (!memchr(m.path, '\0', len - fixed))
		return format_error(r, off, "mmap record's file name is not terminated");
	return r->sink->mmap ? r->sink->mmap(r->sink->ctx, &m) : 0;
}

/* One build_id_event (feature section or PERF_RECORD_HEADER_BUILD_ID). */
static int on_build_id(struct reader *r, uint16_t misc, const unsigned char *body, size_t len,
		       uint64_t off)
{
	if (len < 4 + 24 + 1)
		return format_error(r, off, "build id record too short");
	const char *path = (const char *)body + 28;
	if (!memchr(path, '\0', len - 28))
		return format_error(r, off, "build id record's file name is not terminated");
	size_t idlen = 20;
	if (misc & MISC_BUILD_ID_SIZE)
		idlen = body[4 + 20] > 20 ? 20 : body[4 + 20];
	if (!r->sink->build_id)
		return 0;
	return r->sink->build_id(r->sink->ctx, (int32_t)get32(body), path, body + 4, idlen);
}

/* Returns the record at off (within [off, end)) with its header checked
 * and its bytes 8-byte aligned in memory. */
static int get_record(struct reader *r, uint64_t off, uint64_t end, const unsigned char **rec,
		      uint32_t *type, uint16_t *misc, uint16_t *size)
{
	const unsigned char *p;
	if (end - off < 8) {
		int err = src_get(r, off, 8, &p, "record header");
		if (err)
			return err;
		return format_error(r, off, "record header crosses the end of its section");
	}
	int err = src_get(r, off, 8, &p, "record header");
	if (err)
		return err;
	*type = get32(p);
	memcpy(misc, p + 4, 2);
	memcpy(size, p + 6, 2);
	if (*size < 8)
		return format_error(r, off, "record with a size smaller than its header");
	if (*size > end - off) {
		err = src_get(r, off, *size, &p, "record");
		if (err)
			return err;
		return format_error(r, off, "record crosses the end of its section");
	}
	err = src_get(r, off, *size, &p, "record");
	if (err)
		return err;
	if ((uintptr_t)p & 7) {
		memcpy(r->aligned, p, *size);
		p = (const unsigned char *)r->aligned;
	}
	*rec = p;
	return 0;
}

/* Hands one kernel record (type below 64) to the sink. */
static int dispatch_kernel_record(struct reader *r, uint32_t type, uint16_t misc,
				  const unsigned char *body, size_t len, uint64_t off)
{
	switch (type) {
	case PERF_RECORD_SAMPLE:
		return on_sample(r, body, len, misc);
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2:
		return on_mmap(r, type, misc, body, len, off);
	case PERF_RECORD_COMM:
		if (len < 9)
			return format_error(r, off, "comm record too short");
		if (!memchr(body + 8, '\0', len - 8))
			return format_error(r, off, "comm record's name is not terminated");
		if (r->sink->comm)
			return r->sink->comm(r->sink->ctx, get32(body), get32(body + 4),
					     (const char *)body + 8, (misc & PERF_RECORD_MISC_COMM_EXEC) != 0);
		return 0;
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		if (len < 16)
			return format_error(r, off, "fork/exit record too short");
		int (*fn)(void *, uint32_t, uint32_t, uint32_t, uint32_t) =
			type == PERF_RECORD_FORK ? r->sink->fork : r->sink->exit;
		return fn ? fn(r->sink->ctx, get32(body), get32(body + 4), get32(body + 8), get32(body + 12))
			  : 0;
	}
	case PERF_RECORD_LOST:
		if (len < 16)
			return format_error(r, off, "lost record too short");
		r->st.lost += get64(body + 8);
		return r->sink->lost ? r->sink->lost(r->sink->ctx, get64(body), get64(body + 8)) : 0;
	default:
		return 0; /* carries nothing kiln needs */
	}
}

/* A record's timestamp, from the layout of the first event's sample_type:
 * in a sample after IDENTIFIER, IP and TID; in other records in the
 * sample_id trailer, before ID, STREAM_ID, CPU and IDENTIFIER. 0 when the
 * file has no timestamps. */
static uint64_t record_time(const struct reader *r, uint32_t type, const unsigned char *body, size_t len)
{
	if (!r->nattrs)
		return 0;
	uint64_t t = r->attrs[0].sample_type;
	if (!(t & PERF_SAMPLE_TIME))
		return 0;
	size_t pos;
	if (type == PERF_RECORD_SAMPLE) {
		pos = !!(t & PERF_SAMPLE_IDENTIFIER) + !!(t & PERF_SAMPLE_IP) + !!(t & PERF_SAMPLE_TID);
		return len >= (pos + 1) * 8 ? get64(body + pos * 8) : 0;
	}
	if (!r->attrs[0].sample_id_all)
		return 0;
	size_t after = 1 + !!(t & PERF_SAMPLE_ID) + !!(t & PERF_SAMPLE_STREAM_ID) + !!(t & PERF_SAMPLE_CPU) +
		       !!(t & PERF_SAMPLE_IDENTIFIER);
	return len >= after * 8 ? get64(body + len - after * 8) : 0;
}

/* Kernel records of one round, to be handed out in time order: perf writes
 * each CPU's ring in turn, so within a round (up to a FINISHED_ROUND
 * record) records of different CPUs are out of order, and a sample could
 * otherwise come before the mmap of the code it hit. */
struct pending {
	uint64_t time, off;
};

enum { REC_FINISHED_ROUND = 68, ROUND_MAX = 1 << 20 };

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off; /* stable: file order */
}

static int flush_round(struct reader *r, struct pending *v, size_t *n, uint64_t end)
{
	if (!*n)
		return 0;
	/* read the whole round into the window once: the records are about to
	 * be visited out of file order */
	if (!r->src.mem) {
		uint64_t lo = v[0].off, hi = v[*n - 1].off + MAX_RECORD;
		if (hi > end)
			hi = end;
		if (hi > lo && !(lo >= r->src.win_off && hi - r->src.win_off <= r->src.win_len)) {
			int err = src_fill(r, lo, (size_t)(hi - lo));
			if (err) {
				*n = 0;
				return err;
			}
		}
	}
	qsort(v, *n, sizeof(*v), cmp_pending);
	for (size_t i = 0; i < *n; i++) {
		const unsigned char *rec;
		uint32_t type;
		uint16_t misc, size;
		int err = get_record(r, v[i].off, end, &rec, &type, &misc, &size);
		if (!err)
			err = dispatch_kernel_record(r, type, misc, rec + 8, size - 8u, v[i].off);
		if (err) {
			*n = 0;
			return err;
		}
	}
	*n = 0;
	return 0;
}

/* Reads the records in [off, end). In pipe mode end is the file size and
 * a few of perf's own records carry data after them. perf's own records
 * (attributes, build ids) are used as they come; kernel records are
 * sorted by time within each round. */
static int read_records(struct reader *r, uint64_t off, uint64_t end, bool pipe)
{
	struct pending *round = NULL;
	size_t nround = 0, round_cap = 0;
	int err = 0;
	while (off < end && !err) {
		const unsigned char *rec;
		uint32_t type;
		uint16_t misc, size;
		err = get_record(r, off, end, &rec, &type, &misc, &size);
		if (err)
			break;
		const unsigned char *body = rec + 8;
		size_t len = size - 8u;
		uint64_t next = off + size;
		r->st.records++;
		if (type < REC_HEADER_ATTR) {
			round = xgrow(round, sizeof(*round), nround + 1, &round_cap);
			round[nround++] = (struct pending){record_time(r, type, body, len), off};
			if (nround >= ROUND_MAX)
				err = flush_round(r, round, &nround, end);
			off = next;
			continue;
		}
		switch (type) {
		case REC_FINISHED_ROUND:
			err = flush_round(r, round, &nround, end);
			break;
		case REC_HEADER_ATTR:
			err = read_attr_record(r, body, len, off);
			break;
		case REC_HEADER_BUILD_ID:
			err = on_build_id(r, misc, body, len, off);
			break;
		case REC_HEADER_TRACING_DATA:
			if (pipe) {
				/* the tracing data follows the record, padded to 8 */
				if (len < 4) {
					err = format_error(r, off, "tracing data record too short");
					break;
				}
				uint64_t extra = ((uint64_t)get32(body) + 7) & ~(uint64_t)7;
				next += extra;
			}
			break;
		case REC_AUXTRACE: {
			/* its AUX area data follows the record */
			if (len < 8) {
				err = format_error(r, off, "auxtrace record too short");
				break;
			}
			uint64_t extra = get64(body);
			if (extra > end - next) {
				err = src_get(r, next, (size_t)-1, &rec, "auxtrace data");
				break;
			}
			next += extra;
			break;
		}
		case REC_COMPRESSED:
			err = format_error(r, off,
					   "compressed perf.data (perf record -z) is not supported; "
					   "decompress it with 'perf inject -i IN -o OUT'");
			break;
		default:
			/* perf itself refuses types beyond its own (bytes of
			 * something else, e.g. text written into a pipe) */
			if (type >= MAX_RECORD_TYPE)
				err = format_error(r, off, "unknown record type: not perf.data records");
			break;
		}
		if (err)
			break;
		if (next > end) {
			err = src_get(r, off, (size_t)(next - off), &rec, "record data");
			break;
		}
		off = next;
	}
	if (!err)
		err = flush_round(r, round, &nround, end);
	free(round);
	if (!err)
		r->st.data_bytes = off;
	return err;
}

/* The HEADER_BUILD_ID feature: build_id_event records. */
static int read_build_ids(struct reader *r, uint64_t off, uint64_t size)
{
	if (off > r->src.size || size > r->src.size - off) {
		const unsigned char *p;
		return src_get(r, off, (size_t)(size > MAX_RECORD ? MAX_RECORD : size), &p,
			       "build id section");
	}
	uint64_t end = off + size;
	while (off < end) {
		const unsigned char *rec;
		uint32_t type;
		uint16_t misc, rsize;
		int err = get_record(r, off, end, &rec, &type, &misc, &rsize);
		if (err)
			return err;
		err = on_build_id(r, misc, rec + 8, rsize - 8u, off);
		if (err)
			return err;
		off += rsize;
	}
	return 0;
}

static int read_features(struct reader *r, const uint64_t flags[4], uint64_t at)
{
	size_t idx = 0;
	for (unsigned bit = 0; bit < FEAT_BITS; bit++) {
		if (!((flags[bit / 64] >> (bit % 64)) & 1))
			continue;
		if (bit == FEAT_BUILD_ID) {
			const unsigned char *p;
			int err = src_get(r, at + idx * 16, 16, &p, "feature section table");
			if (err)
				return err;
			uint64_t off = get64(p), size = get64(p + 8);
			return read_build_ids(r, off, size);
		}
		idx++;
	}
	return 0;
}

static int read_file(struct reader *r)
{
	const unsigned char *p;
	int err = src_get(r, 0, PIPE_HEADER_SIZE, &p, "file header");
	if (err)
		return err;
	if (memcmp(p, magic2, 8)) {
		static const char swapped[8] = {'2', 'E', 'L', 'I', 'F', 'R', 'E', 'P'};
		if (!memcmp(p, swapped, 8))
			return format_error(r, 0, "perf.data of the other byte order is not supported");
		if (!memcmp(p, "PERFFILE", 8))
			return format_error(r, 0, "perf.data version 1 is not supported");
		return format_error(r, 0, "not a perf.data file (bad magic)");
	}
	uint64_t hsize = get64(p + 8);
	if (hsize == PIPE_HEADER_SIZE) {
		r->st.pipe = true;
		return read_records(r, PIPE_HEADER_SIZE, r->src.size, true);
	}
	if (hsize < FILE_HEADER_SIZE || hsize > MAX_RECORD)
		return format_error(r, 8, "bad header size");
	err = src_get(r, 0, FILE_HEADER_SIZE, &p, "file header");
	if (err)
		return err;
	uint64_t attr_size = get64(p + 16);
	uint64_t attrs_off = get64(p + 24), attrs_size = get64(p + 32);
	uint64_t data_off = get64(p + 40), data_size = get64(p + 48);
	uint64_t flags[4];
	for (int i = 0; i < 4; i++)
		flags[i] = get64(p + 72 + 8 * i);
	if (data_off > r->src.size || data_size > r->src.size - data_off) {
		if (r->d)
			r->d->offset = 40;
		return diag_set(r->d, KILN_ERR_TRUNCATED, 0,
				"the data section (offset %llu, %llu bytes) ends past the end of the file "
				"(%llu bytes)",
				(unsigned long long)data_off, (unsigned long long)data_size,
				(unsigned long long)r->src.size);
	}
	if (data_size == 0 && r->src.size > data_off && r->src.size - data_off > 0)
		return diag_set(r->d, KILN_ERR_TRUNCATED, 0,
				"the header says the data section is empty: was perf record stopped "
				"before it could finish the file?");
	err = read_attrs(r, attr_size, attrs_off, attrs_size);
	if (err)
		return err;
	err = read_features(r, flags, data_off + data_size);
	if (err)
		return err;
	return read_records(r, data_off, data_off + data_size, false);
}

static int read_all(struct reader *r)
{
	int err = read_file(r);
	for (size_t i = 0; i < r->nattrs; i++)
		free(r->attr_ids[i]);
	free(r->attr_ids);
	free(r->attrs);
	free(r->idmap);
	free(r->src.win);
	return err;
}

static int start(struct reader *r, const struct perfdata_sink *sink, struct diag *d)
{
	static const struct perfdata_sink none;
	r->sink = sink ? sink : &none;
	r->d = d;
	if (d) {
		d->line = 0;
		d->offset = 0;
		d->msg[0] = '\0';
	}
	return 0;
}

int perfdata_read_fd(int fd, const struct perfdata_sink *sink, struct perfdata_stats *st,
		     struct diag *d)
{
	struct stat sb;
	if (fstat(fd, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return diag_set(d, -ESPIPE, 0, "perf.data must be a regular file, not a pipe or device");
	struct reader *r = xcalloc(1, sizeof(*r));
	start(r, sink, d);
	r->src.fd = fd;
	r->src.size = (uint64_t)sb.st_size;
	int err = read_all(r);
	if (st)
		*st = r->st;
	free(r);
	return err;
}

int perfdata_read_mem(const void *buf, size_t len, const struct perfdata_sink *sink,
		      struct perfdata_stats *st, struct diag *d)
{
	struct reader *r = xcalloc(1, sizeof(*r));
	start(r, sink, d);
	r->src.mem = buf ? buf : (const void *)"";
	r->src.fd = -1;
	r->src.size = buf ? len : 0;
	int err = read_all(r);
	if (st)
		*st = r->st;
	free(r);
	return err;
}
