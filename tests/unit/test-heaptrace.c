/* test-heaptrace: the heap trace reader and the analysis, on traces built
 * here with a tiny encoder (record heads, varints, raw deflate, chunk
 * headers): exact totals, peak and its time, sites, histogram,
 * temporaries, leaks, frees by back-reference and by size across threads;
 * every truncation of a trace and a bad crc end reading cleanly; bad
 * records and old versions are clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "analyze/heapstats.h"
#include "base/strbuf.h"
#include "format/heaptrace.h"

/* ---- encoder ------------------------------------------------------------ */

static void put_v(struct strbuf *sb, uint64_t v)
{
	while (v >= 0x80) {
		strbuf_addch(sb, (char)(v | 0x80));
		v >>= 7;
	}
	strbuf_addch(sb, (char)v);
}

static void put_le32(struct strbuf *sb, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		strbuf_addch(sb, (char)(v >> (8 * i)));
}

static void put_le64(struct strbuf *sb, uint64_t v)
{
	put_le32(sb, (uint32_t)v);
	put_le32(sb, (uint32_t)(v >> 32));
}

static void header_v(struct strbuf *out, uint32_t version)
{
	strbuf_add(out, HEAPTRACE_MAGIC, 8);
	put_le32(out, version);
	put_le32(out, sizeof(struct heaptrace_header));
	put_le64(out, 1700000000000000000ULL);
	put_le64(out, 5000);
	put_le32(out, 4242);
	put_le32(out, 1);
	put_le32(out, 0);
	put_le32(out, 0);
	put_le32(out, 4096);
	for (int i = 0; i < 5; i++)
		put_le32(out, 0);
}

static void header(struct strbuf *out)
{
	header_v(out, HEAPTRACE_VERSION);
}

/* A chunk: raw deflate (zlib's deflate with negative window bits). */
static void chunk(struct strbuf *out, const struct strbuf *raw)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	uLong cap = deflateBound(&z, raw->len);
	unsigned char *buf = malloc(cap);
	z.next_in = (Bytef *)raw->buf;
	z.avail_in = (uInt)raw->len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	put_le32(out, HEAPTRACE_CHUNK_MAGIC);
	put_le32(out, (uint32_t)z.total_out);
	put_le32(out, (uint32_t)raw->len);
	put_le32(out, (uint32_t)crc32(0L, (const Bytef *)raw->buf, (uInt)raw->len));
	strbuf_add(out, buf, z.total_out);
	deflateEnd(&z);
	free(buf);
}

static void head(struct strbuf *r, unsigned type)
{
	put_v(r, (uint64_t)type << 2 | HT_TAG_RECORD);
}

static void r_stack(struct strbuf *r, uint64_t id, uint64_t parent, uint64_t ip)
{
	head(r, HT_STACK);
	put_v(r, id), put_v(r, parent), put_v(r, ip);
}

/* A stream: the context that starts a chunk's run of its events, then
 * events at given times (HT_TIME when the time moves). */
struct wstream {
	uint64_t serial, time;
};

static void r_context(struct strbuf *r, struct wstream *w)
{
	head(r, HT_CONTEXT);
	put_v(r, w->serial), put_v(r, w->time);
}

static void r_at(struct strbuf *r, struct wstream *w, uint64_t t)
{
	if (t > w->time) {
		head(r, HT_TIME);
		put_v(r, t - w->time);
		w->time = t;
	}
}

static void r_alloc(struct strbuf *r, struct wstream *w, uint64_t t, uint64_t size, uint64_t stack)
{
	r_at(r, w, t);
	put_v(r, size << 2 | HT_TAG_ALLOC);
	put_v(r, stack);
}

static void r_free_back(struct strbuf *r, struct wstream *w, uint64_t t, uint64_t back)
{
	r_at(r, w, t);
	put_v(r, back << 2 | HT_TAG_FREE_BACK);
}

static void r_free(struct strbuf *r, struct wstream *w, uint64_t t, uint64_t size, uint64_t stack)
{
	r_at(r, w, t);
	put_v(r, size << 2 | HT_TAG_FREE);
	put_v(r, stack);
}

static void r_leak(struct strbuf *r, uint64_t ptr, uint64_t size, uint64_t stack, uint64_t kind)
{
	head(r, HT_LEAK);
	put_v(r, ptr), put_v(r, size), put_v(r, stack), put_v(r, kind);
}

/* The known trace: stacks 1 (main), 2 = a <- main, 3 = b <- main.
 * t=10  alloc A 1000 @2          live 1000
 * t=20  alloc B 2000 @3          live 3000
 * t=30  alloc C 4096 @2          live 7096   <- peak, at t=30
 * t=40  free B                   live 5096
 * t=50  free A (by size, stack)  live 4096
 * t=60  alloc D 100 @3; t=61 free D (temporary)
 * t=70..72 alloc 3 x 16 @3 (leaked); t=80 free C; 2 MiB alloc @2 + free
 * second chunk: RSS, leak records, END. */
static void known(struct strbuf *out)
{
	struct strbuf r = STRBUF_INIT;
	struct wstream w = {1, 0};
	header(out);
	head(&r, HT_MODULE);
	put_v(&r, 1), put_v(&r, 0x400000), put_v(&r, 0x500000), put_v(&r, 0);
	put_v(&r, 9), strbuf_add(&r, "/bin/none", 9), put_v(&r, 0);
	r_stack(&r, 1, 0, 0x401000);
	r_stack(&r, 2, 1, 0x402000);
	r_stack(&r, 3, 1, 0x403000);
	r_context(&r, &w);
	head(&r, HT_THREAD);
	put_v(&r, 1), put_v(&r, 7), put_v(&r, 4), strbuf_add(&r, "main", 4);
	r_alloc(&r, &w, 10, 1000, 2);
	r_alloc(&r, &w, 20, 2000, 3);
	r_alloc(&r, &w, 30, 4096, 2);
	r_free_back(&r, &w, 40, 2);
	r_free(&r, &w, 50, 1000, 2);
	chunk(out, &r);
	strbuf_reset(&r);
	r_context(&r, &w);
	r_alloc(&r, &w, 60, 100, 3);
	r_free_back(&r, &w, 61, 1);
	r_alloc(&r, &w, 70, 16, 3);
	r_alloc(&r, &w, 71, 16, 3);
	r_alloc(&r, &w, 72, 16, 3);
	r_free_back(&r, &w, 80, 5);
	r_alloc(&r, &w, 90, 2 << 20, 2);
	r_free_back(&r, &w, 95, 1);
	chunk(out, &r);
	strbuf_reset(&r);
	head(&r, HT_RSS);
	put_v(&r, 96), put_v(&r, 1 << 20);
	r_leak(&r, 0x5000, 16, 3, HT_LEAK_DEFINITELY);
	r_leak(&r, 0x5100, 16, 3, HT_LEAK_DEFINITELY);
	r_leak(&r, 0x5200, 16, 3, HT_LEAK_DEFINITELY);
	head(&r, HT_END);
	put_v(&r, 100), put_v(&r, HT_END_EXIT), put_v(&r, 3);
	chunk(out, &r);
	strbuf_release(&r);
}

static const struct heapsite *site(const struct heapstats *h, uint64_t stack)
{
	for (size_t i = 0; i < h->nsites; i++)
		if (h->sites[i].stack_id == stack)
			return &h->sites[i];
	return NULL;
}

static void test_known_totals(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT;
	known(&t);
	struct heapstats h;
	struct diag d = {0};
	assert_int_equal(heapstats_analyze_mem(&h, t.buf, t.len, &d), 0);
	assert_int_equal(h.header.pid, 4242);
	assert_false(h.read.ends_early);
	assert_int_equal(h.read.chunks, 3);
	assert_int_equal(h.allocs, 8);
	assert_int_equal(h.alloc_bytes, 1000 + 2000 + 4096 + 100 + 48 + (2 << 20));
	assert_int_equal(h.frees, 5);
	assert_int_equal(h.temporary, 2); /* D, and the 2 MiB block */
	/* the 2 MiB block is the peak: 48 + 2 MiB live at t=90 */
	assert_int_equal(h.peak_bytes, 48 + (2 << 20));
	assert_int_equal(h.peak_time, 90);
	assert_int_equal(h.peak_count, 4);
	assert_int_equal(h.live_bytes, 48);
	assert_int_equal(h.live_count, 3);
	assert_true(h.have_end);
	assert_int_equal(h.end_status, 3);
	assert_true(h.have_leaks);
	assert_int_equal(h.leak_bytes[HT_LEAK_DEFINITELY], 48);
	assert_int_equal(h.leak_count[HT_LEAK_DEFINITELY], 3);
	assert_int_equal(h.rss_max, 1 << 20);
	const struct heapsite *s2 = site(&h, 2), *s3 = site(&h, 3);
	assert_non_null(s2);
	assert_non_null(s3);
	assert_int_equal(s2->allocs, 3);
	assert_int_equal(s2->bytes, 1000 + 4096 + (2 << 20));
	assert_int_equal(s2->peak_bytes, 2 << 20);
	assert_int_equal(s3->peak_bytes, 48);
	assert_int_equal(s3->peak_count, 3);
	assert_int_equal(s3->temporary, 1);
	assert_int_equal(s3->live_bytes, 48);
	assert_int_equal(s3->leak_count[HT_LEAK_DEFINITELY], 3);
	/* histogram: 1000,100,16x3 tiny; 2000,4096 small; 2 MiB large */
	assert_int_equal(h.bucket_count[HEAPSTATS_TINY], 5);
	assert_int_equal(h.bucket_count[HEAPSTATS_SMALL], 2);
	assert_int_equal(h.bucket_count[HEAPSTATS_MEDIUM], 0);
	assert_int_equal(h.bucket_count[HEAPSTATS_LARGE_B], 1);
	assert_int_equal(h.bucket_bytes[HEAPSTATS_SMALL], 6096);
	assert_int_equal(h.pow2_count[5], 3);  /* 16 in [16, 32) */
	assert_int_equal(h.pow2_count[13], 1); /* 4096 in [4096, 8192) */
	/* top sites */
	size_t n;
	size_t *idx = heapstats_sorted(&h, HEAPSTATS_BY_BYTES, &n);
	assert_int_equal(n, 2);
	assert_int_equal(h.sites[idx[0]].stack_id, 2);
	free(idx);
	idx = heapstats_sorted(&h, HEAPSTATS_BY_COUNT, &n);
	assert_int_equal(h.sites[idx[0]].stack_id, 3); /* 5 allocations */
	free(idx);
	uint64_t ips[8];
	assert_int_equal(heapstats_stack(&h, 3, ips, 8), 2);
	assert_int_equal(ips[0], 0x403000);
	assert_int_equal(ips[1], 0x401000);
	heapstats_release(&h);
	strbuf_release(&t);
}

/* A peak that is not the last maximum before the end: replay must stop
 * exactly there. */
static void test_peak_replay(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT, r = STRBUF_INIT;
	struct wstream w = {1, 0};
	header(&t);
	r_stack(&r, 1, 0, 0x10);
	r_stack(&r, 2, 0, 0x20);
	r_context(&r, &w);
	r_alloc(&r, &w, 1, 500, 1);
	r_alloc(&r, &w, 2, 700, 2); /* 1200: peak */
	r_free_back(&r, &w, 3, 1);
	r_alloc(&r, &w, 4, 600, 1); /* 1100 */
	r_free_back(&r, &w, 5, 3);
	chunk(&t, &r);
	struct heapstats h;
	assert_int_equal(heapstats_analyze_mem(&h, t.buf, t.len, NULL), 0);
	assert_int_equal(h.peak_bytes, 1200);
	assert_int_equal(h.peak_time, 2);
	assert_int_equal(site(&h, 1)->peak_bytes, 500);
	assert_int_equal(site(&h, 2)->peak_bytes, 700);
	assert_int_equal(site(&h, 1)->live_bytes, 600);
	assert_int_equal(site(&h, 2)->live_bytes, 0);
	/* temporary: the 700-byte block, freed right after it was allocated */
	assert_int_equal(h.temporary, 1);
	heapstats_release(&h);
	strbuf_release(&t);
	strbuf_release(&r);
}

/* Two threads: a block allocated on one and freed on the other (by size
 * and stack), a thread's stream continued in a later chunk, and the events
 * of an exited thread (serial 0). */
static void test_streams(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT, r = STRBUF_INIT;
	struct wstream a = {1, 0}, b = {2, 0}, gone = {0, 0};
	header(&t);
	r_stack(&r, 1, 0, 0x10);
	r_context(&r, &a);
	r_alloc(&r, &a, 5, 100, 1);
	r_alloc(&r, &a, 6, 30, 1);
	r_context(&r, &b);
	r_free(&r, &b, 7, 100, 1); /* a's first block */
	r_alloc(&r, &b, 8, 30, 1);
	chunk(&t, &r);
	strbuf_reset(&r);
	r_context(&r, &a);
	r_free_back(&r, &a, 9, 1); /* a's 30-byte block: temporary */
	r_context(&r, &gone);
	r_alloc(&r, &gone, 10, 100, 1);
	r_free(&r, &gone, 11, 30, 1); /* b's block */
	chunk(&t, &r);
	struct heapstats h;
	struct diag d = {0};
	assert_int_equal(heapstats_analyze_mem(&h, t.buf, t.len, &d), 0);
	assert_int_equal(h.allocs, 4);
	assert_int_equal(h.frees, 3);
	assert_int_equal(h.temporary, 1);
	assert_int_equal(h.live_count, 1);
	assert_int_equal(h.live_bytes, 100);
	assert_int_equal(h.peak_bytes, 130);
	assert_int_equal(h.last_time, 11);
	heapstats_release(&h);
	strbuf_release(&t);
	strbuf_release(&r);
}

static int count_alloc(void *ctx, uint64_t t, uint64_t size, uint64_t stack, uint64_t tid)
{
	(void)t, (void)size, (void)stack, (void)tid;
	++*(int *)ctx;
	return 0;
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT;
	known(&t);
	for (size_t len = 0; len <= t.len; len++) {
		struct heaptrace_stats st;
		struct diag d = {0};
		int n = 0;
		struct heaptrace_sink k = {.ctx = &n, .alloc = count_alloc};
		int rc = heaptrace_read_mem(t.buf, len, &k, &st, &d);
		if (len < sizeof(struct heaptrace_header)) {
			assert_true(rc < 0);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(n <= 8);
		if (len < t.len)
			assert_true(st.ends_early || st.bytes == len);
		struct heapstats h;
		assert_int_equal(heapstats_analyze_mem(&h, t.buf, len, &d), 0);
		assert_true(h.peak_bytes <= 48 + (2 << 20));
		heapstats_release(&h);
	}
	strbuf_release(&t);
}

static void test_bad_crc(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT;
	known(&t);
	/* the first chunk's crc field */
	size_t off = sizeof(struct heaptrace_header) + 12;
	t.buf[off] ^= 0x55;
	struct heaptrace_stats st;
	int n = 0;
	struct heaptrace_sink k = {.ctx = &n, .alloc = count_alloc};
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &k, &st, NULL), 0);
	assert_true(st.ends_early);
	assert_int_equal(st.ends_at, sizeof(struct heaptrace_header));
	assert_string_equal(st.why, "bad chunk crc32");
	assert_int_equal(n, 0);
	strbuf_release(&t);
}

static void test_bad_record(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT, r = STRBUF_INIT;
	struct wstream w = {1, 0};
	header(&t);
	r_context(&r, &w);
	r_alloc(&r, &w, 1, 500, 0);
	strbuf_addch(&r, (char)0x80); /* a varint cut off by the end */
	chunk(&t, &r);
	struct diag d = {0};
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &(struct heaptrace_sink){0}, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "bad varint"));
	/* an unknown record type */
	strbuf_reset(&r);
	strbuf_reset(&t);
	header(&t);
	head(&r, 77);
	chunk(&t, &r);
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &(struct heaptrace_sink){0}, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "unknown record type 77"));
	/* an event before any context */
	strbuf_reset(&r);
	strbuf_reset(&t);
	header(&t);
	put_v(&r, 500 << 2 | HT_TAG_ALLOC);
	put_v(&r, 0);
	chunk(&t, &r);
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &(struct heaptrace_sink){0}, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "outside a stream"));
	/* a free reaching back past the stream's allocations */
	strbuf_reset(&r);
	strbuf_reset(&t);
	header(&t);
	r_context(&r, &w);
	r_alloc(&r, &w, 1, 500, 0);
	r_free_back(&r, &w, 2, 2);
	chunk(&t, &r);
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &(struct heaptrace_sink){0}, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "allocation its stream does not have"));
	/* a stream serial far beyond those seen */
	strbuf_reset(&r);
	strbuf_reset(&t);
	header(&t);
	head(&r, HT_CONTEXT);
	put_v(&r, 1ull << 40), put_v(&r, 0);
	chunk(&t, &r);
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &(struct heaptrace_sink){0}, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "serial out of range"));
	/* not a trace; a trace of another format version */
	strbuf_reset(&t);
	strbuf_add(&t, "NOTATRACE-------", 16);
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &(struct heaptrace_sink){0}, NULL, &d), KILN_ERR_FORMAT);
	strbuf_reset(&t);
	header_v(&t, 1);
	assert_int_equal(heaptrace_read_mem(t.buf, t.len, &(struct heaptrace_sink){0}, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "format version 1"));
	strbuf_release(&t);
	strbuf_release(&r);
}

/* Without leak records, not-freed blocks count; loop leaks are flagged. */
/* Leak records naming many stacks that no allocation named: each grows the
 * site table while the leak is being counted (an early version kept a
 * pointer into the table across that growth). */
static void test_leaks_of_new_sites(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT, r = STRBUF_INIT;
	header(&t);
	for (uint64_t i = 1; i <= 300; i++) {
		r_stack(&r, i, 0, 0x10 + i);
		r_leak(&r, 0x100000 + 64 * i, 8, i, HT_LEAK_DEFINITELY);
	}
	chunk(&t, &r);
	struct heapstats h;
	assert_int_equal(heapstats_analyze_mem(&h, t.buf, t.len, NULL), 0);
	assert_true(h.have_leaks);
	assert_int_equal(h.leak_count[HT_LEAK_DEFINITELY], 300);
	assert_int_equal(h.leak_bytes[HT_LEAK_DEFINITELY], 2400);
	heapstats_release(&h);
	strbuf_release(&t);
	strbuf_release(&r);
}

static void test_findings(void **state)
{
	(void)state;
	struct strbuf t = STRBUF_INIT, r = STRBUF_INIT;
	struct wstream w = {1, 0};
	header(&t);
	r_stack(&r, 1, 0, 0x10);
	r_context(&r, &w);
	for (int i = 0; i < 6; i++)
		r_alloc(&r, &w, (uint64_t)i, 8, 1);
	chunk(&t, &r);
	struct heapstats h;
	assert_int_equal(heapstats_analyze_mem(&h, t.buf, t.len, NULL), 0);
	assert_false(h.have_leaks);
	size_t n;
	struct heapfinding *f = heapstats_findings(&h, &n);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].kind, HEAPFIND_LOOP_LEAK);
	assert_int_equal(f[0].count, 6);
	assert_int_equal(f[0].bytes, 48);
	free(f);
	heapstats_release(&h);
	strbuf_release(&t);
	strbuf_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_totals),
		cmocka_unit_test(test_peak_replay),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_bad_crc),
		cmocka_unit_test(test_bad_record),
		cmocka_unit_test(test_findings),
		cmocka_unit_test(test_leaks_of_new_sites),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
