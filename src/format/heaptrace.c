/* heaptrace (reader): header, then chunk by chunk: check the chunk header,
 * read its compressed bytes, verify crc32 after inflating (libdeflate),
 * decode records, resolving each back-referencing FREE to its block's size
 * and stack through its stream's ring of recent allocations.
 * Invariant: only one chunk is held at a time (plus a ring of
 * HEAPTRACE_BACKREFS allocations per thread stream); a damaged or short chunk
 * ends reading cleanly (st->ends_early), a bad record in a good chunk is
 * KILN_ERR_FORMAT. */
#include "format/heaptrace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>

#include "base/xalloc.h"

int heaptrace_sniff(const void *data, size_t len)
{
	return len >= 8 && memcmp(data, HEAPTRACE_MAGIC, 8) == 0;
}

/* An input: an fd or a buffer. in_read returns bytes read (short only at
 * the end) or -errno. */
struct in {
	int fd;
	const unsigned char *mem;
	size_t mem_len, mem_pos;
};

static long long in_read(struct in *in, void *buf, size_t len)
{
	if (in->mem) {
		size_t n = in->mem_len - in->mem_pos;
		if (n > len)
			n = len;
		memcpy(buf, in->mem + in->mem_pos, n);
		in->mem_pos += n;
		return (long long)n;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(in->fd, (char *)buf + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long long)got;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The record decoder's cursor over one inflated chunk. */
struct cur {
	const unsigned char *p, *end;
	bool bad;
};

static inline uint64_t get_v(struct cur *c)
{
	/* fast path: one byte */
	if (c->p < c->end && *c->p < 0x80)
		return *c->p++;
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (c->p >= c->end) {
			c->bad = true;
			return 0;
		}
		unsigned char b = *c->p++;
		if (shift == 63 && b > 1) {
			c->bad = true;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static const unsigned char *get_s(struct cur *c, size_t *len)
{
	uint64_t n = get_v(c);
	if (c->bad || n > (uint64_t)(c->end - c->p)) {
		c->bad = true;
		*len = 0;
		return NULL;
	}
	const unsigned char *s = c->p;
	c->p += n;
	*len = (size_t)n;
	return s;
}

/* The reader's state across chunks: each stream's recent allocations
 * (for back-referencing frees) and thread. */
struct recent {
	uint64_t size, stack;
};

struct stream {
	struct recent *ring; /* HEAPTRACE_BACKREFS: the stream's latest allocations */
	uint64_t count;      /* allocations so far */
	uint64_t tid;
};

struct rstate {
	struct stream **streams; /* by serial */
	size_t nstreams, streams_cap, streams_seen;
};

#define SLACK 65536 /* how far serials may run ahead of the streams seen */

static void rstate_release(struct rstate *r)
{
	for (size_t i = 0; i < r->nstreams; i++) {
		if (r->streams[i])
			free(r->streams[i]->ring);
		free(r->streams[i]);
	}
	free(r->streams);
}

static struct stream *stream_of(struct rstate *r, uint64_t serial)
{
	if (serial >= r->streams_seen + SLACK)
		return NULL;
	if (serial >= r->nstreams) {
		r->streams = xgrow(r->streams, sizeof(*r->streams), serial + 1, &r->streams_cap);
		memset(r->streams + r->nstreams, 0, (serial + 1 - r->nstreams) * sizeof(*r->streams));
		r->nstreams = serial + 1;
	}
	struct stream *t = r->streams[serial];
	if (!t) {
		t = r->streams[serial] = xcalloc(1, sizeof(*t));
		t->ring = xmalloc(HEAPTRACE_BACKREFS * sizeof(*t->ring));
		r->streams_seen++;
	}
	return t;
}

static const char *const record_names[] = {
	"", "MODULE", "STACK", "CONTEXT", "TIME", "THREAD", "RSS", "BAD_FREE", "LEAK", "END", "MMAP", "MUNMAP",
};

static int decode_chunk(struct rstate *r, const unsigned char *raw, size_t len, uint64_t chunk_off,
			const struct heaptrace_sink *k, struct heaptrace_stats *st, struct diag *d)
{
	struct cur c = {raw, raw + len, false};
	void *x = k->ctx;
	struct stream *cur = NULL; /* the chunk's current stream; NULL: serial 0 */
	bool in_stream = false;
	uint64_t now = 0, tid = 0, nrec = 0;
	const char *why = NULL;
	int rc = 0;
	while (c.p < c.end) {
		const unsigned char *rec = c.p;
		uint64_t h = get_v(&c);
		unsigned tag = (unsigned)(h & 3), type = 0;
		uint64_t a, b, e, f;
		const unsigned char *s1, *s2;
		size_t l1, l2;
		if (c.bad) {
			why = "a bad varint";
			goto bad;
		}
		if (tag != HT_TAG_RECORD) {
			if (!in_stream) {
				why = "an event outside a stream";
				goto bad;
			}
			uint64_t size = h >> 2, stack = 0;
			bool temporary = false;
			if (tag == HT_TAG_FREE_BACK) {
				uint64_t back = size;
				if (!cur || back == 0 || back > HEAPTRACE_BACKREFS || back > cur->count) {
					why = "a free naming an allocation its stream does not have";
					goto bad;
				}
				const struct recent *was = &cur->ring[(cur->count - back) & (HEAPTRACE_BACKREFS - 1)];
				size = was->size;
				stack = was->stack;
				temporary = back == 1;
			} else {
				stack = get_v(&c);
				if (c.bad) {
					why = "a bad varint";
					goto bad;
				}
			}
			if (tag == HT_TAG_ALLOC) {
				if (cur)
					cur->ring[cur->count++ & (HEAPTRACE_BACKREFS - 1)] = (struct recent){size, stack};
				if (k->alloc)
					rc = k->alloc(x, now, size, stack, tid);
			} else if (k->free) {
				rc = k->free(x, now, size, stack, tid, temporary);
			}
			nrec++;
			if (rc)
				break;
			continue;
		}
		type = (unsigned)(h >> 2);
		bool event = type == HT_TIME || type == HT_BAD_FREE || type == HT_MMAP || type == HT_MUNMAP;
		if (event && !in_stream) {
			why = "an event outside a stream";
			goto bad;
		}
		switch (type) {
		case HT_MODULE:
			a = get_v(&c), b = get_v(&c), e = get_v(&c), f = get_v(&c);
			s1 = get_s(&c, &l1);
			s2 = get_s(&c, &l2);
			if (!c.bad && k->module)
				rc = k->module(x, a, b, e, f, (const char *)s1, l1, s2, l2);
			break;
		case HT_STACK:
			a = get_v(&c), b = get_v(&c), e = get_v(&c);
			if (!c.bad && k->stack)
				rc = k->stack(x, a, b, e);
			break;
		case HT_CONTEXT:
			a = get_v(&c), b = get_v(&c);
			if (c.bad)
				break;
			cur = NULL;
			if (a && !(cur = stream_of(r, a))) {
				why = "a stream serial out of range";
				goto bad;
			}
			in_stream = true;
			now = b;
			tid = cur ? cur->tid : 0;
			break;
		case HT_TIME:
			a = get_v(&c);
			now += a;
			break;
		case HT_THREAD:
			a = get_v(&c), b = get_v(&c);
			s1 = get_s(&c, &l1);
			if (c.bad)
				break;
			if (a) {
				struct stream *t = stream_of(r, a);
				if (!t) {
					why = "a stream serial out of range";
					goto bad;
				}
				t->tid = b;
				if (t == cur)
					tid = b;
			}
			if (k->thread)
				rc = k->thread(x, b, (const char *)s1, l1);
			break;
		case HT_RSS:
			a = get_v(&c), b = get_v(&c);
			if (!c.bad && k->rss)
				rc = k->rss(x, a, b);
			break;
		case HT_BAD_FREE:
			a = get_v(&c), b = get_v(&c), e = get_v(&c);
			if (!c.bad && k->bad_free)
				rc = k->bad_free(x, now, a, b, e);
			break;
		case HT_LEAK:
			a = get_v(&c), b = get_v(&c), e = get_v(&c), f = get_v(&c);
			if (!c.bad && k->leak)
				rc = k->leak(x, a, b, e, f);
			break;
		case HT_END:
			a = get_v(&c), b = get_v(&c), e = get_v(&c);
			if (!c.bad && k->end)
				rc = k->end(x, a, b, e);
			break;
		case HT_MMAP:
			a = get_v(&c), b = get_v(&c), e = get_v(&c);
			if (!c.bad && k->mmap)
				rc = k->mmap(x, now, a, b, e, tid);
			break;
		case HT_MUNMAP:
			a = get_v(&c), b = get_v(&c);
			if (!c.bad && k->munmap)
				rc = k->munmap(x, now, a, b, tid);
			break;
		default:
			rc = diag_set(d, KILN_ERR_FORMAT, 0,
				      "heap trace: unknown record type %u at byte %zu of the chunk at byte %llu", type,
				      (size_t)(rec - raw), (unsigned long long)chunk_off);
			goto out;
		}
		if (c.bad) {
			why = "a bad varint or length";
			goto bad;
		}
		nrec++;
		if (rc)
			break;
		continue;
	bad:
		rc = diag_set(d, KILN_ERR_FORMAT, 0, "heap trace: %s%s%s at byte %zu of the chunk at byte %llu",
			      type && type < sizeof(record_names) / sizeof(*record_names) ? record_names[type] : "",
			      type ? " record with " : "", why, (size_t)(rec - raw), (unsigned long long)chunk_off);
		break;
	}
out:
	st->records += nrec;
	return rc;
}

static void ends_early(struct heaptrace_stats *st, uint64_t off, const char *why)
{
	st->ends_early = true;
	st->ends_at = off;
	snprintf(st->why, sizeof(st->why), "%s", why);
}

static int read_all(struct in *in, const struct heaptrace_sink *k, struct heaptrace_stats *st,
		    struct diag *d)
{
	unsigned char hb[sizeof(struct heaptrace_header)];
	long long n = in_read(in, hb, sizeof(hb));
	if (n < 0)
		return (int)n;
	if (n == 0)
		return diag_set(d, KILN_ERR_EMPTY, 0, "heap trace: the file is empty");
	if (n < 8 || memcmp(hb, HEAPTRACE_MAGIC, 8) != 0)
		return diag_set(d, KILN_ERR_FORMAT, 0, "not a kiln heap trace (no KILNHEAP magic)");
	if (n < (long long)sizeof(hb))
		return diag_set(d, KILN_ERR_TRUNCATED, 0, "heap trace: the file ends inside its header");
	struct heaptrace_header h;
	memcpy(h.magic, hb, 8);
	h.version = le32(hb + 8);
	h.header_size = le32(hb + 12);
	h.start_realtime_ns = le64(hb + 16);
	h.start_monotonic_ns = le64(hb + 24);
	h.pid = le32(hb + 32);
	h.ppid = le32(hb + 36);
	h.sample_bytes = le32(hb + 40);
	h.flags = le32(hb + 44);
	h.page_size = le32(hb + 48);
	for (int i = 0; i < 5; i++)
		h.reserved[i] = le32(hb + 52 + 4 * i);
	if (h.version != HEAPTRACE_VERSION)
		return diag_set(d, KILN_ERR_FORMAT, 0,
				"heap trace: format version %u, this kiln reads version %u only (trace it again "
				"with this kiln's libkiln-heap.so)",
				h.version, HEAPTRACE_VERSION);
	if (h.header_size < sizeof(hb) || h.header_size > 4096)
		return diag_set(d, KILN_ERR_FORMAT, 0, "heap trace: bad header size %u", h.header_size);
	st->bytes = sizeof(hb);
	/* a newer writer's longer header: skip the extra bytes */
	for (uint32_t skip = h.header_size - (uint32_t)sizeof(hb); skip;) {
		unsigned char junk[256];
		size_t want = skip < sizeof(junk) ? skip : sizeof(junk);
		n = in_read(in, junk, want);
		if (n < 0)
			return (int)n;
		if ((size_t)n < want)
			return diag_set(d, KILN_ERR_TRUNCATED, 0, "heap trace: the file ends inside its header");
		skip -= (uint32_t)want;
		st->bytes += want;
	}
	if (k->header) {
		int rc = k->header(k->ctx, &h);
		if (rc)
			return rc;
	}

	unsigned char *zbuf = NULL, *raw = NULL;
	size_t zcap = 0, rcap = 0;
	int rc = 0;
	struct libdeflate_decompressor *dz = libdeflate_alloc_decompressor();
	if (!dz)
		return -ENOMEM;
	struct rstate rs = {0};
	for (;;) {
		unsigned char ch[16];
		uint64_t off = st->bytes;
		n = in_read(in, ch, sizeof(ch));
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		if (n < (long long)sizeof(ch)) {
			ends_early(st, off, "the file ends inside a chunk header");
			break;
		}
		uint32_t magic = le32(ch), zlen = le32(ch + 4), rlen = le32(ch + 8), crc = le32(ch + 12);
		if (magic != HEAPTRACE_CHUNK_MAGIC) {
			ends_early(st, off, "bad chunk magic");
			break;
		}
		if (zlen > HEAPTRACE_MAX_CHUNK || rlen > HEAPTRACE_MAX_CHUNK) {
			rc = diag_set(d, KILN_ERR_FORMAT, 0,
				      "heap trace: the chunk at byte %llu claims %u compressed, %u raw bytes (limit %u)",
				      (unsigned long long)off, zlen, rlen, HEAPTRACE_MAX_CHUNK);
			break;
		}
		if (in->mem && zlen > in->mem_len - in->mem_pos) {
			ends_early(st, off, "the file ends inside a chunk");
			break;
		}
		if (zlen > zcap || !zbuf) {
			free(zbuf);
			zcap = zlen ? zlen : 1;
			zbuf = xmalloc(zcap);
		}
		n = in_read(in, zbuf, zlen);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if ((uint64_t)n < zlen) {
			ends_early(st, off, "the file ends inside a chunk");
			break;
		}
		if (rlen > rcap || !raw) {
			free(raw);
			rcap = rlen ? rlen : 1;
			raw = xmalloc(rcap);
		}
		if (libdeflate_deflate_decompress(dz, zbuf, zlen, raw, rlen, NULL) != LIBDEFLATE_SUCCESS) {
			ends_early(st, off, "a chunk does not inflate");
			break;
		}
		if (libdeflate_crc32(0, raw, rlen) != crc) {
			ends_early(st, off, "bad chunk crc32");
			break;
		}
		rc = decode_chunk(&rs, raw, rlen, off, k, st, d);
		if (rc) {
			if (d && rc == KILN_ERR_FORMAT)
				d->offset = off;
			break;
		}
		st->chunks++;
		st->raw_bytes += rlen;
		st->bytes += sizeof(ch) + zlen;
	}
	libdeflate_free_decompressor(dz);
	rstate_release(&rs);
	free(zbuf);
	free(raw);
	return rc;
}

int heaptrace_read_fd(int fd, const struct heaptrace_sink *sink, struct heaptrace_stats *st,
		      struct diag *d)
{
	struct heaptrace_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	struct in in = {.fd = fd};
	return read_all(&in, sink, st, d);
}

int heaptrace_read_mem(const void *data, size_t len, const struct heaptrace_sink *sink,
		       struct heaptrace_stats *st, struct diag *d)
{
	struct heaptrace_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	static const unsigned char empty;
	struct in in = {.fd = -1, .mem = len ? data : &empty, .mem_len = len};
	return read_all(&in, sink, st, d);
}
