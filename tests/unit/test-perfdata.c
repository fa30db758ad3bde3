/* test-perfdata: the perf.data reader on small files built here byte by
 * byte: header, attributes with ids, build id feature, records of every
 * kind kiln reads, two events told apart by IDENTIFIER, pipe mode; and
 * every truncation and random garbage give an error code, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/perf_event.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "format/perfdata.h"

/* ---- building a file ---- */

static void put32(struct strbuf *b, uint32_t v)
{
	strbuf_add(b, &v, 4);
}

static void put64(struct strbuf *b, uint64_t v)
{
	strbuf_add(b, &v, 8);
}

static void set64(struct strbuf *b, size_t at, uint64_t v)
{
	memcpy(b->buf + at, &v, 8);
}

static size_t rec_begin(struct strbuf *b, uint32_t type, uint16_t misc)
{
	size_t at = b->len;
	put32(b, type);
	uint16_t m[2] = {misc, 0};
	strbuf_add(b, m, 4);
	return at;
}

static void rec_end(struct strbuf *b, size_t at)
{
	while ((b->len - at) % 8)
		strbuf_addch(b, '\0');
	uint16_t size = (uint16_t)(b->len - at);
	memcpy(b->buf + at + 6, &size, 2);
}

static void put_str(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s) + 1);
}

/* A 128-byte perf_event_attr. */
static void put_attr(struct strbuf *b, uint64_t sample_type, uint64_t regs_mask, uint32_t stack)
{
	unsigned char a[128] = {0};
	uint32_t size = 128;
	uint64_t period = 999, flags = (1u << 10) | (1u << 18); /* freq, sample_id_all */
	memcpy(a + 4, &size, 4);
	memcpy(a + 16, &period, 8);
	memcpy(a + 24, &sample_type, 8);
	memcpy(a + 40, &flags, 8);
	memcpy(a + 80, &regs_mask, 8);
	memcpy(a + 88, &stack, 4);
	strbuf_add(b, a, sizeof(a));
}

#define FP_TYPE (PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_PERIOD)

static void put_fp_sample(struct strbuf *b, uint64_t ip, uint32_t pid, uint64_t time)
{
	size_t r = rec_begin(b, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER);
	put64(b, ip);
	put32(b, pid);
	put32(b, pid);
	put64(b, time);
	put64(b, 1001001); /* period */
	put64(b, 4); /* callchain */
	put64(b, (uint64_t)PERF_CONTEXT_USER);
	put64(b, ip);
	put64(b, 0x401100);
	put64(b, 0x401200);
	rec_end(b, r);
}

/* The sample_id trailer of a side-band record (sample_id_all with
 * FP_TYPE's TID and TIME bits): pid, tid, time. The reader orders the
 * records of a round by these times. */
static void put_trailer(struct strbuf *b, uint32_t pid, uint64_t time)
{
	put32(b, pid);
	put32(b, pid);
	put64(b, time);
}

/* A complete file: one fp event, comm/mmap/fork/samples/lost/unknown
 * records, and a build id feature. */
static void build_fp_file_ex(struct strbuf *b, bool early_sample);

static void build_fp_file(struct strbuf *b)
{
	build_fp_file_ex(b, false);
}

/* early_sample: a sample at time 4 is written right after the comm
 * record, before the mmaps of times 2 and 3 (as a sample from one CPU's
 * ring can precede another CPU's mmap within a round). */
static void build_fp_file_ex(struct strbuf *b, bool early_sample)
{
	strbuf_add(b, "PERFILE2", 8);
	put64(b, 104);
	put64(b, 128 + 16);
	put64(b, 104); /* attrs */
	put64(b, 144);
	size_t data_at = b->len;
	put64(b, 0); /* data, patched */
	put64(b, 0);
	put64(b, 0); /* event types */
	put64(b, 0);
	put64(b, 1u << 2); /* HEADER_BUILD_ID */
	put64(b, 0);
	put64(b, 0);
	put64(b, 0);
	put_attr(b, FP_TYPE, 0, 0);
	put64(b, 248); /* ids section */
	put64(b, 8);
	put64(b, 77); /* the id */
	uint64_t data_off = b->len;

	size_t r = rec_begin(b, PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC);
	put32(b, 42);
	put32(b, 42);
	put_str(b, "work");
	put_trailer(b, 42, 1);
	rec_end(b, r);
	if (early_sample)
		put_fp_sample(b, 0x401000, 42, 4);
	r = rec_begin(b, PERF_RECORD_MMAP2, 0);
	put32(b, 42);
	put32(b, 42);
	put64(b, 0x400000);
	put64(b, 0x2000);
	put64(b, 0);
	for (int i = 0; i < 3; i++)
		put64(b, 0); /* maj, min, ino, ino generation */
	put32(b, 5);         /* PROT_READ | PROT_EXEC */
	put32(b, 2);
	put_str(b, "/usr/bin/work");
	put_trailer(b, 42, 2);
	rec_end(b, r);
	r = rec_begin(b, PERF_RECORD_MMAP, PERF_RECORD_MISC_KERNEL);
	put32(b, (uint32_t)-1);
	put32(b, 0);
	put64(b, 0xffffffff81000000ULL);
	put64(b, 0x1000000);
	put64(b, 0);
	put_str(b, "[kernel.kallsyms]_text");
	put_trailer(b, (uint32_t)-1, 3);
	rec_end(b, r);
	r = rec_begin(b, PERF_RECORD_FORK, 0);
	put32(b, 43);
	put32(b, 42);
	put32(b, 43);
	put32(b, 42);
	put64(b, 5);
	put_trailer(b, 43, 5);
	rec_end(b, r);
	put_fp_sample(b, 0x401000, 42, 10);
	put_fp_sample(b, 0x401010, 42, 11);
	r = rec_begin(b, 68, 0); /* FINISHED_ROUND */
	rec_end(b, r);
	r = rec_begin(b, PERF_RECORD_LOST, 0);
	put64(b, 77);
	put64(b, 3);
	put_trailer(b, 0, 11);
	rec_end(b, r);
	r = rec_begin(b, 100, 0); /* unknown: skipped */
	put64(b, 1);
	rec_end(b, r);
	put_fp_sample(b, 0x401020, 43, 12);
	r = rec_begin(b, PERF_RECORD_EXIT, 0);
	put32(b, 43);
	put32(b, 42);
	put32(b, 43);
	put32(b, 42);
	put64(b, 6);
	put_trailer(b, 43, 13);
	rec_end(b, r);
	uint64_t data_size = b->len - data_off;
	set64(b, data_at, data_off);
	set64(b, data_at + 8, data_size);

	/* feature table: one section, the build ids right after it */
	size_t feat = b->len;
	put64(b, 0);
	put64(b, 0);
	uint64_t bid_off = b->len;
	r = rec_begin(b, 67, 1u << 15);
	put32(b, 42);
	unsigned char id[24] = {0xab, 0xcd, 0xef, 0x01};
	id[20] = 4;
	strbuf_add(b, id, sizeof(id));
	put_str(b, "/usr/bin/work");
	rec_end(b, r);
	set64(b, feat, bid_off);
	set64(b, feat + 8, b->len - bid_off);
}

/* ---- a recording sink ---- */

struct seen {
	struct strbuf log;
	unsigned long samples;
};

static int s_attr(void *ctx, const struct perfdata_attr *a)
{
	struct seen *s = ctx;
	strbuf_addf(&s->log, "attr type=%llx nids=%zu freq=%d\n", (unsigned long long)a->sample_type,
		    a->nids, a->freq);
	return 0;
}

static int s_sample(void *ctx, const struct perfdata_sample *p)
{
	struct seen *s = ctx;
	s->samples++;
	strbuf_addf(&s->log, "sample pid=%u tid=%u ip=%llx t=%llu period=%llu chain=%zu", p->pid,
		    p->tid, (unsigned long long)p->ip, (unsigned long long)p->time,
		    (unsigned long long)p->period, p->ncallchain);
	for (size_t i = 0; i < p->ncallchain; i++)
		strbuf_addf(&s->log, " %llx", (unsigned long long)p->callchain[i]);
	if (p->regs) {
		strbuf_addf(&s->log, " regs=%zu", p->nregs);
		for (size_t i = 0; i < p->nregs; i++)
			strbuf_addf(&s->log, ",%llu", (unsigned long long)p->regs[i]);
	}
	if (p->stack)
		strbuf_addf(&s->log, " stack=%zu:%.*s", p->stack_len, (int)p->stack_len,
			    (const char *)p->stack);
	strbuf_addch(&s->log, '\n');
	return 0;
}

static int s_mmap(void *ctx, const struct perfdata_mmap *m)
{
	struct seen *s = ctx;
	strbuf_addf(&s->log, "mmap pid=%d %llx+%llx %s exec=%d\n", (int)m->pid,
		    (unsigned long long)m->start, (unsigned long long)m->len, m->path, m->exec);
	return 0;
}

static int s_comm(void *ctx, uint32_t pid, uint32_t tid, const char *comm, bool exec)
{
	struct seen *s = ctx;
	strbuf_addf(&s->log, "comm %u/%u %s exec=%d\n", pid, tid, comm, exec);
	return 0;
}

static int s_fork(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid, uint32_t ptid)
{
	struct seen *s = ctx;
	strbuf_addf(&s->log, "fork %u %u %u %u\n", pid, ppid, tid, ptid);
	return 0;
}

static int s_exit(void *ctx, uint32_t pid, uint32_t ppid, uint32_t tid, uint32_t ptid)
{
	struct seen *s = ctx;
	strbuf_addf(&s->log, "exit %u %u %u %u\n", pid, ppid, tid, ptid);
	return 0;
}

static int s_lost(void *ctx, uint64_t id, uint64_t n)
{
	struct seen *s = ctx;
	strbuf_addf(&s->log, "lost %llu %llu\n", (unsigned long long)id, (unsigned long long)n);
	return 0;
}

static int s_build_id(void *ctx, int32_t pid, const char *path, const unsigned char *id, size_t len)
{
	struct seen *s = ctx;
	strbuf_addf(&s->log, "build_id %d %s ", pid, path);
	for (size_t i = 0; i < len; i++)
		strbuf_addf(&s->log, "%02x", id[i]);
	strbuf_addch(&s->log, '\n');
	return 0;
}

static struct perfdata_sink sink_for(struct seen *s)
{
	struct perfdata_sink k = {s_attr, s_sample, s_mmap, s_comm, s_fork, s_exit, s_lost, s_build_id, s};
	return k;
}

static const char fp_expected[] =
	"attr type=127 nids=1 freq=1\n"
	"build_id 42 /usr/bin/work abcdef01\n"
	"comm 42/42 work exec=1\n"
	"mmap pid=42 400000+2000 /usr/bin/work exec=1\n"
	"mmap pid=-1 ffffffff81000000+1000000 [kernel.kallsyms]_text exec=1\n"
	"fork 43 42 43 42\n"
	"sample pid=42 tid=42 ip=401000 t=10 period=1001001 chain=4 fffffffffffffe00 401000 401100 401200\n"
	"sample pid=42 tid=42 ip=401010 t=11 period=1001001 chain=4 fffffffffffffe00 401010 401100 401200\n"
	"lost 77 3\n"
	"sample pid=43 tid=43 ip=401020 t=12 period=1001001 chain=4 fffffffffffffe00 401020 401100 401200\n"
	"exit 43 42 43 42\n";

static void test_fp_file(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	build_fp_file(&b);
	struct seen s = {STRBUF_INIT, 0};
	struct perfdata_sink k = sink_for(&s);
	struct perfdata_stats st;
	struct diag d = {0};
	assert_int_equal(perfdata_read_mem(b.buf, b.len, &k, &st, &d), 0);
	assert_string_equal(strbuf_str(&s.log), fp_expected);
	assert_int_equal(st.samples, 3);
	assert_int_equal(st.lost, 3);
	assert_false(st.pipe);

	/* the same through a file descriptor */
	char path[] = "/tmp/test-perfdata.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, b.buf, b.len), (long)b.len);
	strbuf_reset(&s.log);
	assert_int_equal(perfdata_read_fd(fd, &k, NULL, &d), 0);
	assert_string_equal(strbuf_str(&s.log), fp_expected);
	close(fd);
	strbuf_release(&s.log);
	strbuf_release(&b);
}

/* Every prefix of a valid file is an error (mostly KILN_ERR_TRUNCATED),
 * and the reader never reads past the prefix (ASan checks the copy). */
static void test_truncated(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	build_fp_file(&b);
	for (size_t n = 0; n < b.len; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, b.buf, n);
		struct diag d = {0};
		int err = perfdata_read_mem(copy, n, NULL, NULL, &d);
		if (err >= 0)
			fail_msg("prefix of %zu bytes read without error", n);
		assert_true(err == KILN_ERR_TRUNCATED || err == KILN_ERR_FORMAT);
		assert_true(d.msg[0] != '\0');
		free(copy);
	}
	strbuf_release(&b);
}

static void test_bad_magic(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	build_fp_file(&b);
	struct diag d = {0};
	memcpy(b.buf, "PERFILE3", 8);
	assert_int_equal(perfdata_read_mem(b.buf, b.len, NULL, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "magic"));
	memcpy(b.buf, "2ELIFREP", 8);
	assert_int_equal(perfdata_read_mem(b.buf, b.len, NULL, NULL, &d), KILN_ERR_FORMAT);
	assert_non_null(strstr(d.msg, "byte order"));
	strbuf_release(&b);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bytes in the data section after a valid header and attribute,
 * and random bytes flipped anywhere: errors or success, never a crash. */
static void test_garbage(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	build_fp_file(&b);
	size_t data_off;
	memcpy(&data_off, b.buf + 40, 8);
	struct seen s = {STRBUF_INIT, 0};
	struct perfdata_sink k = sink_for(&s);
	for (int round = 0; round < 3000; round++) {
		char *copy = malloc(b.len);
		memcpy(copy, b.buf, b.len);
		if (round % 2) {
			for (size_t i = data_off; i < b.len; i++)
				copy[i] = (char)rng();
		} else {
			for (int f = 0; f < 1 + round % 7; f++)
				copy[rng() % b.len] = (char)rng();
		}
		strbuf_reset(&s.log);
		struct diag d = {0};
		int err = perfdata_read_mem(copy, b.len, &k, NULL, &d);
		assert_true(err == 0 || err == KILN_ERR_TRUNCATED || err == KILN_ERR_FORMAT ||
			    err == KILN_ERR_TOO_BIG);
		free(copy);
	}
	strbuf_release(&s.log);
	strbuf_release(&b);
}

/* Two events with IDENTIFIER: the second has user registers and a stack
 * copy, as perf record --call-graph dwarf writes them. In pipe mode. */
static void test_pipe_two_events(void **state)
{
	(void)state;
	uint64_t t1 = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID;
	uint64_t t2 = t1 | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	struct strbuf b = STRBUF_INIT;
	strbuf_add(&b, "PERFILE2", 8);
	put64(&b, 16);
	size_t r = rec_begin(&b, 64, 0); /* HEADER_ATTR */
	put_attr(&b, t1, 0, 0);
	put64(&b, 5);
	put64(&b, 6);
	rec_end(&b, r);
	r = rec_begin(&b, 64, 0);
	put_attr(&b, t2, 0x181, 16); /* AX, SP, IP */
	put64(&b, 9);
	rec_end(&b, r);
	r = rec_begin(&b, PERF_RECORD_SAMPLE, 0);
	put64(&b, 9);
	put64(&b, 0x1234);
	put32(&b, 7);
	put32(&b, 8);
	put64(&b, PERF_SAMPLE_REGS_ABI_64);
	put64(&b, 1);
	put64(&b, 2);
	put64(&b, 3);
	put64(&b, 16);
	strbuf_add(&b, "stackstackstack!", 16);
	put64(&b, 5); /* dyn_size */
	rec_end(&b, r);
	r = rec_begin(&b, PERF_RECORD_SAMPLE, 0);
	put64(&b, 6);
	put64(&b, 0x99);
	put32(&b, 1);
	put32(&b, 2);
	rec_end(&b, r);
	r = rec_begin(&b, PERF_RECORD_SAMPLE, 0); /* unknown id */
	put64(&b, 1000);
	put64(&b, 0x99);
	put32(&b, 1);
	put32(&b, 2);
	rec_end(&b, r);

	struct seen s = {STRBUF_INIT, 0};
	struct perfdata_sink k = sink_for(&s);
	struct perfdata_stats st;
	struct diag d = {0};
	assert_int_equal(perfdata_read_mem(b.buf, b.len, &k, &st, &d), 0);
	assert_string_equal(strbuf_str(&s.log),
			    "attr type=10003 nids=2 freq=1\n"
			    "attr type=13003 nids=1 freq=1\n"
			    "sample pid=7 tid=8 ip=1234 t=0 period=0 chain=0 regs=3,1,2,3 stack=5:stack\n"
			    "sample pid=1 tid=2 ip=99 t=0 period=0 chain=0\n");
	assert_true(st.pipe);
	assert_int_equal(st.samples, 2);
	assert_int_equal(st.bad_samples, 1);
	strbuf_release(&s.log);
	strbuf_release(&b);
}

/* A sink's non-zero return stops the reader and comes back. */
static int stop_sample(void *ctx, const struct perfdata_sample *p)
{
	(void)ctx;
	(void)p;
	return 7;
}

/* Within a round, records reach the sink in time order, so a sample never
 * comes before the mmap of the code it hit. */
static void test_round_is_time_ordered(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	build_fp_file_ex(&b, true);
	struct seen s = {STRBUF_INIT, 0};
	struct perfdata_sink k = sink_for(&s);
	struct diag d = {0};
	assert_int_equal(perfdata_read_mem(b.buf, b.len, &k, NULL, &d), 0);
	const char *log = strbuf_str(&s.log);
	const char *mmap_k = strstr(log, "mmap pid=-1"), *early = strstr(log, " t=4 "),
		   *fork = strstr(log, "fork 43");
	assert_non_null(mmap_k);
	assert_non_null(early);
	assert_non_null(fork);
	assert_true(mmap_k < early && early < fork);
	strbuf_release(&s.log);
	strbuf_release(&b);
}

static void test_sink_stops(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	build_fp_file(&b);
	struct perfdata_sink k = {.sample = stop_sample};
	struct perfdata_stats st;
	assert_int_equal(perfdata_read_mem(b.buf, b.len, &k, &st, NULL), 7);
	assert_int_equal(st.samples, 1);
	strbuf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fp_file),
		cmocka_unit_test(test_round_is_time_ordered),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_pipe_two_events),
		cmocka_unit_test(test_sink_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
