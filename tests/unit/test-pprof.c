/* test-pprof: the pprof reader and writer: write-then-read gives the same
 * model (raw and gzipped, inlined lines, labels, mappings, header fields),
 * id remapping, sniffing, and that malformed input of every kind returns an
 * error code instead of crashing (run under ASan/UBSan by make test-san). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "format/pprof.h"
#include "model/profile.h"
#include "profile.pb-c.h"

/* ---- helpers ----------------------------------------------------------- */

/* A profile using every part of the model. */
static void build_rich(struct profile *p)
{
	profile_init(p);
	profile_add_sample_type(p, "samples", "count");
	profile_add_sample_type(p, "cpu", "nanoseconds");
	p->period_type.type = profile_interns(p, "cpu");
	p->period_type.unit = profile_interns(p, "nanoseconds");
	p->period = 10000000;
	p->time_nanos = 1700000000123456789LL;
	p->duration_nanos = 2500000000LL;
	p->default_sample_type = profile_interns(p, "cpu");
	p->drop_frames = profile_interns(p, "runtime\\..*");
	p->doc_url = profile_interns(p, "https://example.invalid/doc");
	uint32_t c1 = profile_interns(p, "first comment"), c2 = profile_interns(p, "second");
	p->comments = malloc(2 * sizeof(*p->comments));
	p->comments[0] = c1;
	p->comments[1] = c2;
	p->ncomments = p->comments_cap = 2;

	uint64_t mexe = profile_add_mapping(p, 0x400000, 0x500000, 0, profile_interns(p, "/usr/bin/app"),
					    profile_interns(p, "deadbeef"),
					    PROFILE_MAPPING_HAS_FUNCTIONS | PROFILE_MAPPING_HAS_LINE_NUMBERS);
	uint64_t mlib = profile_add_mapping(p, 0x7f0000000000, 0x7f0000100000, 0x1000,
					    profile_interns(p, "/lib/libc.so.6"), 0,
					    PROFILE_MAPPING_HAS_INLINE_FRAMES | PROFILE_MAPPING_HAS_FILENAMES);
	uint64_t fmain = profile_intern_function(p, "main", "main", "app.c", 5);
	uint64_t fouter = profile_intern_function(p, "ns::outer()", "_ZN2ns5outerEv", "app.c", 20);
	uint64_t finner = profile_intern_function(p, "inner", "inner", "inl.h", 3);
	uint64_t fwork = profile_intern_function(p, "work", "work", "app.c", 40);
	/* A name with a NUL byte survives (string_table is bytes). */
	uint32_t odd = profile_intern(p, "odd\0name", 8);
	uint64_t fodd = profile_add_function(p, odd, odd, 0, 0);

	struct profile_line lmain = {fmain, 7, 0};
	struct profile_line linl[2] = {{finner, 4, 2}, {fouter, 22, 9}};
	struct profile_line lwork = {fwork, 41, 0};
	struct profile_line lodd = {fodd, 0, 0};
	uint64_t a = profile_add_location(p, mexe, 0x401000, &lmain, 1, 0);
	uint64_t b = profile_add_location(p, mexe, 0x402000, linl, 2, 0);
	uint64_t c = profile_add_location(p, mexe, 0x403000, &lwork, 1, 1);
	uint64_t d = profile_add_location(p, mlib, 0x7f0000001234, NULL, 0, 0);
	uint64_t e = profile_add_location(p, 0, 0x99, &lodd, 1, 0);

	struct profile_label labels[3] = {
		{.key = profile_interns(p, "thread_name"), .str = profile_interns(p, "worker-1")},
		{.key = profile_interns(p, "pid"), .num = 4242},
		{.key = profile_interns(p, "size"), .num = -64, .num_unit = profile_interns(p, "bytes")},
	};
	uint64_t s1[3] = {c, b, a}, s2[3] = {d, b, a}, s3[2] = {e, a};
	int64_t v1[2] = {3, 30000000}, v2[2] = {1, 10000000}, v3[2] = {0, -5};
	assert_int_equal(profile_add_sample(p, v1, 2, s1, 3, labels, 3), 0);
	assert_int_equal(profile_add_sample(p, v2, 2, s2, 3, labels + 1, 1), 0);
	assert_int_equal(profile_add_sample(p, v3, 2, s3, 2, NULL, 0), 0);
	int64_t v4[2] = {INT64_MAX, INT64_MIN};
	assert_int_equal(profile_add_sample(p, v4, 2, NULL, 0, NULL, 0), 0);
}

static void assert_str_same(const struct profile *a, uint32_t ia, const struct profile *b,
			    uint32_t ib)
{
	size_t la = strtab_len(&a->strs, ia), lb = strtab_len(&b->strs, ib);
	assert_int_equal(la, lb);
	assert_memory_equal(profile_str(a, ia), profile_str(b, ib), la + 1);
}

/* Asserts that a and b hold the same profile, comparing strings by content. */
static void assert_profile_same(const struct profile *a, const struct profile *b)
{
	assert_int_equal(a->nsample_types, b->nsample_types);
	for (size_t i = 0; i < a->nsample_types; i++) {
		assert_str_same(a, a->sample_types[i].type, b, b->sample_types[i].type);
		assert_str_same(a, a->sample_types[i].unit, b, b->sample_types[i].unit);
	}
	assert_str_same(a, a->period_type.type, b, b->period_type.type);
	assert_str_same(a, a->period_type.unit, b, b->period_type.unit);
	assert_int_equal(a->period, b->period);
	assert_int_equal(a->time_nanos, b->time_nanos);
	assert_int_equal(a->duration_nanos, b->duration_nanos);
	assert_str_same(a, a->default_sample_type, b, b->default_sample_type);
	assert_str_same(a, a->drop_frames, b, b->drop_frames);
	assert_str_same(a, a->keep_frames, b, b->keep_frames);
	assert_str_same(a, a->doc_url, b, b->doc_url);
	assert_int_equal(a->ncomments, b->ncomments);
	for (size_t i = 0; i < a->ncomments; i++)
		assert_str_same(a, a->comments[i], b, b->comments[i]);

	assert_int_equal(a->nmappings, b->nmappings);
	for (size_t i = 0; i < a->nmappings; i++) {
		const struct profile_mapping *x = &a->mappings[i], *y = &b->mappings[i];
		assert_int_equal(x->id, y->id);
		assert_int_equal(x->start, y->start);
		assert_int_equal(x->limit, y->limit);
		assert_int_equal(x->offset, y->offset);
		assert_int_equal(x->flags, y->flags);
		assert_str_same(a, x->filename, b, y->filename);
		assert_str_same(a, x->build_id, b, y->build_id);
	}
	assert_int_equal(a->nfunctions, b->nfunctions);
	for (size_t i = 0; i < a->nfunctions; i++) {
		const struct profile_function *x = &a->functions[i], *y = &b->functions[i];
		assert_int_equal(x->id, y->id);
		assert_int_equal(x->start_line, y->start_line);
		assert_str_same(a, x->name, b, y->name);
		assert_str_same(a, x->system_name, b, y->system_name);
		assert_str_same(a, x->filename, b, y->filename);
	}
	assert_int_equal(a->nlocations, b->nlocations);
	for (size_t i = 0; i < a->nlocations; i++) {
		const struct profile_location *x = &a->locations[i], *y = &b->locations[i];
		assert_int_equal(x->id, y->id);
		assert_int_equal(x->mapping_id, y->mapping_id);
		assert_int_equal(x->address, y->address);
		assert_int_equal(x->is_folded, y->is_folded);
		assert_int_equal(x->nlines, y->nlines);
		const struct profile_line *lx = profile_location_lines(a, x);
		const struct profile_line *ly = profile_location_lines(b, y);
		for (size_t j = 0; j < x->nlines; j++) {
			assert_int_equal(lx[j].function_id, ly[j].function_id);
			assert_int_equal(lx[j].line, ly[j].line);
			assert_int_equal(lx[j].column, ly[j].column);
		}
	}
	assert_int_equal(a->nsamples, b->nsamples);
	for (size_t i = 0; i < a->nsamples; i++) {
		const struct profile_sample *x = &a->samples[i], *y = &b->samples[i];
		assert_memory_equal(profile_sample_values(a, i), profile_sample_values(b, i),
				    a->nsample_types * sizeof(int64_t));
		assert_int_equal(x->nlocs, y->nlocs);
		if (x->nlocs)
			assert_memory_equal(a->sample_locs + x->loc_off, b->sample_locs + y->loc_off,
					    x->nlocs * sizeof(uint64_t));
		assert_int_equal(x->nlabels, y->nlabels);
		for (size_t j = 0; j < x->nlabels; j++) {
			const struct profile_label *lx = &a->labels[x->label_off + j];
			const struct profile_label *ly = &b->labels[y->label_off + j];
			assert_str_same(a, lx->key, b, ly->key);
			assert_str_same(a, lx->str, b, ly->str);
			assert_str_same(a, lx->num_unit, b, ly->num_unit);
			assert_int_equal(lx->num, ly->num);
		}
	}
}

static int collect(void *ctx, const char *stack, size_t len, int64_t value)
{
	struct strbuf *sb = ctx;
	strbuf_add(sb, stack, len);
	strbuf_addf(sb, " %lld\n", (long long)value);
	return 0;
}

static int ignore(void *ctx, const char *stack, size_t len, int64_t value)
{
	(void)ctx;
	(void)stack;
	(void)len;
	(void)value;
	return 0;
}

static void encode(const struct profile *p, int level, unsigned char **data, size_t *len)
{
	void *buf;
	assert_int_equal(pprof_encode(p, level, &buf, len), 0);
	*data = buf;
}

/* Packs a hand-built message (for inputs kiln's writer never produces). */
static unsigned char *pack(const Perftools__Profiles__Profile *m, size_t *len)
{
	*len = perftools__profiles__profile__get_packed_size(m);
	unsigned char *buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(perftools__profiles__profile__pack(m, buf), *len);
	return buf;
}

static unsigned char *gzip_bytes(const void *data, size_t len, size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	size_t cap = deflateBound(&zs, len) + 64;
	unsigned char *out = malloc(cap);
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

/* Reads data expecting failure with code want (0 = any error). */
static void expect_error(const void *data, size_t len, int want)
{
	struct profile p;
	struct diag d = {0};
	memset(&p, 0xa5, sizeof(p));
	int rc = pprof_read(data, len, &p, &d);
	if (want)
		assert_int_equal(rc, want);
	else
		assert_true(rc < 0);
	assert_true(d.msg[0] != '\0');
	/* The out-parameter is untouched on failure. */
	unsigned char *raw = (unsigned char *)&p;
	for (size_t i = 0; i < sizeof(p); i++)
		assert_int_equal(raw[i], 0xa5);
}

/* Reads data that may or may not parse; a parse must be walkable. */
static void read_anything(const void *data, size_t len)
{
	struct profile p;
	struct diag d = {0};
	int rc = pprof_read(data, len, &p, &d);
	if (rc == 0) {
		int vi = profile_default_value_index(&p);
		if (vi >= 0)
			assert_int_equal(profile_for_each_stack(&p, vi, ignore, NULL), 0);
		profile_release(&p);
	} else {
		assert_true(rc < 0);
	}
}

/* ---- round trips ------------------------------------------------------- */

static void test_round_trip_rich(void **state)
{
	(void)state;
	struct profile a, b, c;
	build_rich(&a);
	static const int levels[] = {PPROF_RAW, 1, PPROF_GZIP_DEFAULT, 9};
	for (size_t k = 0; k < sizeof(levels) / sizeof(levels[0]); k++) {
		unsigned char *buf, *buf2;
		size_t len, len2;
		encode(&a, levels[k], &buf, &len);
		assert_int_equal(buf[0] == 0x1f && buf[1] == 0x8b, levels[k] != PPROF_RAW);
		assert_true(pprof_sniff(buf, len));
		struct diag d = {0};
		assert_int_equal(pprof_read(buf, len, &b, &d), 0);
		assert_profile_same(&a, &b);
		/* Writing what was read gives the same bytes. */
		encode(&b, levels[k], &buf2, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, len);
		assert_int_equal(pprof_read(buf2, len2, &c, NULL), 0);
		assert_profile_same(&a, &c);
		profile_release(&b);
		profile_release(&c);
		free(buf);
		free(buf2);
	}
	profile_release(&a);
}

static void test_round_trip_stacks(void **state)
{
	(void)state;
	struct profile a, b;
	build_rich(&a);
	unsigned char *buf;
	size_t len;
	encode(&a, PPROF_GZIP_DEFAULT, &buf, &len);
	assert_int_equal(pprof_read(buf, len, &b, NULL), 0);
	assert_int_equal(profile_default_value_index(&b), 1);
	assert_int_equal(profile_value_index(&b, "cpu"), 1);
	assert_int_equal(profile_value_index(&b, "samples"), 0);
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(profile_for_each_stack(&b, 1, collect, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "main;ns::outer();inner;work 30000000\n"
					     "main;ns::outer();inner;[libc.so.6] 10000000\n"
					     "main;odd name -5\n"
					     "[unknown] -9223372036854775808\n");
	strbuf_reset(&sb);
	assert_int_equal(profile_for_each_stack(&b, 0, collect, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "main;ns::outer();inner;work 3\n"
					     "main;ns::outer();inner;[libc.so.6] 1\n"
					     "[unknown] 9223372036854775807\n");
	strbuf_release(&sb);
	profile_release(&b);
	profile_release(&a);
	free(buf);
}

static void test_folded_through_pprof(void **state)
{
	(void)state;
	static const char *const stacks[] = {"main;parse;lex", "main;parse", "main;eval;lex",
					     "start_thread;worker;spin"};
	static const int64_t counts[] = {40, 7, 3, 50};
	struct profile a, b;
	profile_init(&a);
	struct strbuf want = STRBUF_INIT;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(profile_add_folded(&a, stacks[i], strlen(stacks[i]), counts[i]), 0);
		strbuf_addf(&want, "%s %lld\n", stacks[i], (long long)counts[i]);
	}
	unsigned char *buf;
	size_t len;
	encode(&a, 6, &buf, &len);
	assert_int_equal(pprof_read(buf, len, &b, NULL), 0);
	assert_profile_same(&a, &b);
	struct strbuf got = STRBUF_INIT;
	assert_int_equal(profile_for_each_stack(&b, profile_default_value_index(&b), collect, &got),
			 0);
	assert_string_equal(strbuf_str(&got), strbuf_str(&want));
	/* Folding more into a profile that was read reuses its functions. */
	size_t nf = b.nfunctions, nl = b.nlocations;
	assert_int_equal(profile_add_folded(&b, "main;parse;lex", 14, 1), 0);
	assert_int_equal(b.nfunctions, nf);
	assert_int_equal(b.nlocations, nl);
	strbuf_release(&got);
	strbuf_release(&want);
	profile_release(&a);
	profile_release(&b);
	free(buf);
}

static void test_empty_profile(void **state)
{
	(void)state;
	struct profile a, b;
	profile_init(&a);
	unsigned char *buf;
	size_t len;
	/* An empty model still writes string_table[0] = "", so it reads back. */
	encode(&a, PPROF_RAW, &buf, &len);
	assert_true(len > 0);
	assert_int_equal(pprof_read(buf, len, &b, NULL), 0);
	assert_int_equal(b.nsamples, 0);
	assert_int_equal(profile_default_value_index(&b), KILN_ERR_EMPTY);
	profile_release(&b);
	free(buf);
	encode(&a, 9, &buf, &len);
	assert_int_equal(pprof_read(buf, len, &b, NULL), 0);
	profile_release(&b);
	free(buf);
	profile_release(&a);
}

static void test_sparse_ids_remapped(void **state)
{
	(void)state;
	/* Ids need not be 1..n: go tool pprof accepts any distinct nonzero ids. */
	Perftools__Profiles__Profile m = PERFTOOLS__PROFILES__PROFILE__INIT;
	ProtobufCBinaryData strs[4] = {{0, (uint8_t *)""}, {3, (uint8_t *)"foo"},
				       {3, (uint8_t *)"bar"}, {7, (uint8_t *)"samples"}};
	m.n_string_table = 4;
	m.string_table = strs;
	Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	vt.type = 3;
	Perftools__Profiles__ValueType *vtp = &vt;
	m.n_sample_type = 1;
	m.sample_type = &vtp;
	Perftools__Profiles__Function f[2] = {PERFTOOLS__PROFILES__FUNCTION__INIT,
					      PERFTOOLS__PROFILES__FUNCTION__INIT};
	f[0].id = 900;
	f[0].name = 1;
	f[1].id = 7;
	f[1].name = 2;
	Perftools__Profiles__Function *fp[2] = {&f[0], &f[1]};
	m.n_function = 2;
	m.function = fp;
	Perftools__Profiles__Line ln[2] = {PERFTOOLS__PROFILES__LINE__INIT,
					   PERFTOOLS__PROFILES__LINE__INIT};
	ln[0].function_id = 7;
	ln[1].function_id = 900;
	Perftools__Profiles__Line *lp0 = &ln[0], *lp1 = &ln[1];
	Perftools__Profiles__Location l[2] = {PERFTOOLS__PROFILES__LOCATION__INIT,
					      PERFTOOLS__PROFILES__LOCATION__INIT};
	l[0].id = 5000000000ULL;
	l[0].n_line = 1;
	l[0].line = &lp0;
	l[1].id = 3;
	l[1].n_line = 1;
	l[1].line = &lp1;
	Perftools__Profiles__Location *locp[2] = {&l[0], &l[1]};
	m.n_location = 2;
	m.location = locp;
	Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT;
	uint64_t ids[2] = {5000000000ULL, 3}; /* bar (leaf), foo */
	int64_t val = 11;
	s.n_location_id = 2;
	s.location_id = ids;
	s.n_value = 1;
	s.value = &val;
	Perftools__Profiles__Sample *sp = &s;
	m.n_sample = 1;
	m.sample = &sp;

	size_t len;
	unsigned char *buf = pack(&m, &len);
	struct profile p;
	assert_int_equal(pprof_read(buf, len, &p, NULL), 0);
	assert_int_equal(p.locations[0].id, 1);
	assert_int_equal(profile_location_lines(&p, &p.locations[0])[0].function_id, 2);
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(profile_for_each_stack(&p, 0, collect, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "foo;bar 11\n");
	strbuf_release(&sb);
	profile_release(&p);

	/* The same id twice is an error. */
	l[1].id = l[0].id;
	free(buf);
	buf = pack(&m, &len);
	expect_error(buf, len, KILN_ERR_FORMAT);
	free(buf);
}

/* ---- malformed input --------------------------------------------------- */

/* A small valid message with one of everything, for the bad-id cases. */
struct mini {
	Perftools__Profiles__Profile m;
	ProtobufCBinaryData strs[3];
	Perftools__Profiles__ValueType vt, *vtp;
	Perftools__Profiles__Mapping map, *mapp;
	Perftools__Profiles__Function fn, *fnp;
	Perftools__Profiles__Line line, *linep;
	Perftools__Profiles__Location loc, *locp;
	Perftools__Profiles__Label label, *labelp;
	Perftools__Profiles__Sample sample, *samplep;
	uint64_t loc_ids[1];
	int64_t values[1];
	int64_t comment[1];
};

static void mini_init(struct mini *x)
{
	static const Perftools__Profiles__Profile m0 = PERFTOOLS__PROFILES__PROFILE__INIT;
	static const Perftools__Profiles__ValueType vt0 = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	static const Perftools__Profiles__Mapping map0 = PERFTOOLS__PROFILES__MAPPING__INIT;
	static const Perftools__Profiles__Function fn0 = PERFTOOLS__PROFILES__FUNCTION__INIT;
	static const Perftools__Profiles__Line line0 = PERFTOOLS__PROFILES__LINE__INIT;
	static const Perftools__Profiles__Location loc0 = PERFTOOLS__PROFILES__LOCATION__INIT;
	static const Perftools__Profiles__Label label0 = PERFTOOLS__PROFILES__LABEL__INIT;
	static const Perftools__Profiles__Sample sample0 = PERFTOOLS__PROFILES__SAMPLE__INIT;
	memset(x, 0, sizeof(*x));
	x->m = m0;
	x->strs[0] = (ProtobufCBinaryData){0, (uint8_t *)""};
	x->strs[1] = (ProtobufCBinaryData){4, (uint8_t *)"func"};
	x->strs[2] = (ProtobufCBinaryData){7, (uint8_t *)"samples"};
	x->m.n_string_table = 3;
	x->m.string_table = x->strs;
	x->vt = vt0;
	x->vt.type = 2;
	x->vtp = &x->vt;
	x->m.n_sample_type = 1;
	x->m.sample_type = &x->vtp;
	x->map = map0;
	x->map.id = 1;
	x->map.filename = 1;
	x->mapp = &x->map;
	x->m.n_mapping = 1;
	x->m.mapping = &x->mapp;
	x->fn = fn0;
	x->fn.id = 1;
	x->fn.name = 1;
	x->fnp = &x->fn;
	x->m.n_function = 1;
	x->m.function = &x->fnp;
	x->line = line0;
	x->line.function_id = 1;
	x->linep = &x->line;
	x->loc = loc0;
	x->loc.id = 1;
	x->loc.mapping_id = 1;
	x->loc.n_line = 1;
	x->loc.line = &x->linep;
	x->locp = &x->loc;
	x->m.n_location = 1;
	x->m.location = &x->locp;
	x->label = label0;
	x->label.key = 1;
	x->label.str = 2;
	x->labelp = &x->label;
	x->sample = sample0;
	x->loc_ids[0] = 1;
	x->values[0] = 5;
	x->sample.n_location_id = 1;
	x->sample.location_id = x->loc_ids;
	x->sample.n_value = 1;
	x->sample.value = x->values;
	x->sample.n_label = 1;
	x->sample.label = &x->labelp;
	x->samplep = &x->sample;
	x->m.n_sample = 1;
	x->m.sample = &x->samplep;
	x->comment[0] = 1;
	x->m.n_comment = 1;
	x->m.comment = x->comment;
}

static void mini_expect(const struct mini *x, int want)
{
	size_t len;
	unsigned char *buf = pack(&x->m, &len);
	if (want == 0) {
		struct profile p;
		assert_int_equal(pprof_read(buf, len, &p, NULL), 0);
		profile_release(&p);
	} else {
		expect_error(buf, len, want);
		/* And the same gzipped. */
		size_t glen;
		unsigned char *gz = gzip_bytes(buf, len, &glen);
		expect_error(gz, glen, want);
		free(gz);
	}
	free(buf);
}

static void test_bad_ids(void **state)
{
	(void)state;
	struct mini x;
	mini_init(&x);
	mini_expect(&x, 0);

	mini_init(&x);
	x.loc.id = 0;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.fn.id = 0;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.map.id = 0;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.loc_ids[0] = 0;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.loc_ids[0] = 2;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.loc.mapping_id = 9;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.line.function_id = 9;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.line.function_id = 0; /* unknown function: allowed, as in go pprof */
	mini_expect(&x, 0);
	mini_init(&x);
	x.loc.mapping_id = 0;
	mini_expect(&x, 0);
	mini_init(&x);
	x.sample.n_value = 0;
	mini_expect(&x, KILN_ERR_FORMAT);
	mini_init(&x);
	x.m.n_sample_type = 0;
	mini_expect(&x, KILN_ERR_FORMAT);
}

static void test_bad_strings(void **state)
{
	(void)state;
	int64_t bad[] = {3, -1, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mini x;
		mini_init(&x);
		x.fn.name = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.fn.system_name = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.fn.filename = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.map.filename = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.map.build_id = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.vt.unit = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.label.key = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.label.str = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.label.num_unit = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.comment[0] = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.m.default_sample_type = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
		mini_init(&x);
		x.m.doc_url = bad[i];
		mini_expect(&x, KILN_ERR_FORMAT);
	}
	struct mini x;
	mini_init(&x);
	x.strs[0] = (ProtobufCBinaryData){1, (uint8_t *)"x"};
	mini_expect(&x, KILN_ERR_FORMAT);
	/* No string table at all. */
	Perftools__Profiles__Profile m = PERFTOOLS__PROFILES__PROFILE__INIT;
	m.period = 5;
	size_t len;
	unsigned char *buf = pack(&m, &len);
	expect_error(buf, len, KILN_ERR_FORMAT);
	free(buf);
}

static void test_truncated_gzip(void **state)
{
	(void)state;
	struct profile a;
	build_rich(&a);
	unsigned char *buf;
	size_t len;
	encode(&a, PPROF_GZIP_DEFAULT, &buf, &len);
	expect_error(buf, 0, KILN_ERR_EMPTY);
	expect_error(buf, 1, KILN_ERR_FORMAT); /* too short for the magic */
	for (size_t n = 2; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any overread. */
		unsigned char *cut = malloc(n);
		memcpy(cut, buf, n);
		expect_error(cut, n, KILN_ERR_TRUNCATED);
		free(cut);
	}
	profile_release(&a);
	free(buf);
}

static void test_truncated_raw(void **state)
{
	(void)state;
	struct profile a;
	build_rich(&a);
	unsigned char *buf;
	size_t len;
	encode(&a, PPROF_RAW, &buf, &len);
	for (size_t n = 0; n < len; n++) {
		unsigned char *cut = malloc(n ? n : 1);
		memcpy(cut, buf, n);
		read_anything(cut, n);
		free(cut);
	}
	profile_release(&a);
	free(buf);
}

static void test_corrupt_gzip(void **state)
{
	(void)state;
	struct profile a;
	build_rich(&a);
	unsigned char *buf;
	size_t len;
	encode(&a, PPROF_GZIP_DEFAULT, &buf, &len);
	/* Flip each byte after the header: the CRC, the deflate checks or the
	 * protobuf checks must catch it, and nothing may crash. */
	for (size_t i = 10; i < len; i++) {
		buf[i] ^= 0x55;
		read_anything(buf, len);
		buf[i] ^= 0x55;
	}
	/* Bytes after the stream that are not another member. */
	unsigned char *more = malloc(len + 3);
	memcpy(more, buf, len);
	memcpy(more + len, "xyz", 3);
	expect_error(more, len + 3, KILN_ERR_FORMAT);
	free(more);
	/* A header with a bad method byte. */
	static const unsigned char bad_header[] = {0x1f, 0x8b, 0x09, 0, 0, 0, 0, 0, 0, 3, 1, 2};
	expect_error(bad_header, sizeof(bad_header), KILN_ERR_FORMAT);
	/* Gzip of nothing. */
	size_t elen;
	unsigned char *empty = gzip_bytes("", 0, &elen);
	expect_error(empty, elen, KILN_ERR_EMPTY);
	free(empty);
	profile_release(&a);
	free(buf);
}

static void test_gzip_members(void **state)
{
	(void)state;
	struct profile a, b;
	build_rich(&a);
	unsigned char *raw;
	size_t len;
	encode(&a, PPROF_RAW, &raw, &len);
	/* Two gzip members that together hold the message, as cat a.gz b.gz. */
	size_t half = len / 2, l1, l2;
	unsigned char *g1 = gzip_bytes(raw, half, &l1);
	unsigned char *g2 = gzip_bytes(raw + half, len - half, &l2);
	unsigned char *both = malloc(l1 + l2);
	memcpy(both, g1, l1);
	memcpy(both + l1, g2, l2);
	assert_int_equal(pprof_read(both, l1 + l2, &b, NULL), 0);
	assert_profile_same(&a, &b);
	profile_release(&b);
	free(both);
	free(g1);
	free(g2);
	free(raw);
	profile_release(&a);
}

static void test_size_cap(void **state)
{
	(void)state;
	struct profile a, b;
	build_rich(&a);
	unsigned char *raw, *gz;
	size_t rlen, glen;
	encode(&a, PPROF_RAW, &raw, &rlen);
	encode(&a, PPROF_GZIP_DEFAULT, &gz, &glen);
	struct diag d = {0};
	assert_int_equal(pprof_read_capped(raw, rlen, rlen - 1, &b, &d), KILN_ERR_TOO_BIG);
	assert_int_equal(pprof_read_capped(gz, glen, rlen - 1, &b, &d), KILN_ERR_TOO_BIG);
	assert_int_equal(pprof_read_capped(gz, glen, 10, &b, &d), KILN_ERR_TOO_BIG);
	assert_int_equal(pprof_read_capped(raw, rlen, rlen, &b, NULL), 0);
	profile_release(&b);
	assert_int_equal(pprof_read_capped(gz, glen, rlen, &b, NULL), 0);
	profile_release(&b);
	/* A small bomb: 64 MiB of zeros in a few KiB of gzip. */
	size_t zlen = 64u << 20, bomb_len;
	unsigned char *zeros = calloc(1, zlen);
	unsigned char *bomb = gzip_bytes(zeros, zlen, &bomb_len);
	free(zeros);
	assert_int_equal(pprof_read_capped(bomb, bomb_len, 1u << 20, &b, &d), KILN_ERR_TOO_BIG);
	free(bomb);
	free(raw);
	free(gz);
	profile_release(&a);
}

static void test_random_bytes(void **state)
{
	(void)state;
	uint64_t x = 0x243f6a8885a308d3ULL;
	unsigned char buf[512];
	for (int round = 0; round < 20000; round++) {
		size_t n = 0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % sizeof(buf));
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (unsigned char)x;
		}
		/* Every fourth input pretends to be gzip. */
		if (round % 4 == 0 && n >= 2) {
			buf[0] = 0x1f;
			buf[1] = 0x8b;
		}
		unsigned char *copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		read_anything(copy, n);
		pprof_sniff(copy, n);
		free(copy);
	}
}

static void test_mutated_messages(void **state)
{
	(void)state;
	struct profile a;
	build_rich(&a);
	unsigned char *buf;
	size_t len;
	encode(&a, PPROF_RAW, &buf, &len);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 5000; round++) {
		unsigned char *m = malloc(len);
		memcpy(m, buf, len);
		for (int k = 0; k < 3; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			m[x % len] = (unsigned char)(x >> 32);
		}
		read_anything(m, len);
		free(m);
	}
	profile_release(&a);
	free(buf);
}

/* Inputs the fuzzer once broke kiln with, kept as regressions. */
static void test_fuzz_regressions(void **state)
{
	(void)state;
	/* A sample without locations in a profile where no sample has any:
	 * the writer offset a NULL array (UBSan: zero offset to null). */
	static const unsigned char stackless[] = {
	0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x12, 0x08, 0x5d, 0x03, 0x03, 0x02, 0x01, 0x12,
	0x01, 0x00, 0x22, 0x02, 0x08, 0x01, 0x22, 0x06, 0x08, 0x02, 0x22, 0x02, 0x18, 0x02,
	0x22, 0x06, 0x08, 0x03, 0x22, 0x02, 0x08, 0x03, 0x22, 0x06, 0x08, 0x04, 0x22, 0x02,
	0x08, 0x04, 0x2a, 0x06, 0x08, 0x01, 0x10, 0x03, 0x18, 0x03, 0x2a, 0x06, 0x08, 0x02,
	0x10, 0x04, 0x18, 0x04, 0x2a, 0x06, 0x08, 0x03, 0x10, 0x05, 0x18, 0x05, 0x2a, 0x06,
	0x08, 0x04, 0x10, 0x06, 0x18, 0x06, 0x32, 0x00, 0x32, 0x07, 0x73, 0x61, 0x6d, 0x70,
	0x6c, 0x65, 0x73, 0x32, 0x05, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x32, 0x04, 0x6d, 0x61,
	0x69, 0x6e, 0x32, 0x05, 0x70, 0x61, 0x72, 0x73, 0x65, 0x32, 0x03, 0x6c, 0x65, 0x78,
	0x32, 0x04, 0x65, 0x76, 0x61, 0x6c
	};
	struct profile p, q;
	assert_int_equal(pprof_read(stackless, sizeof(stackless), &p, NULL), 0);
	assert_int_equal(p.nsamples, 1);
	assert_int_equal(p.samples[0].nlocs, 0);
	unsigned char *buf;
	size_t len;
	encode(&p, PPROF_RAW, &buf, &len);
	assert_int_equal(pprof_read(buf, len, &q, NULL), 0);
	assert_profile_same(&p, &q);
	profile_release(&q);
	profile_release(&p);
	free(buf);

	/* The same from the model side, with no sample types at all. */
	profile_init(&p);
	assert_int_equal(profile_add_sample(&p, NULL, 0, NULL, 0, NULL, 0), 0);
	encode(&p, PPROF_RAW, &buf, &len);
	assert_int_equal(pprof_read(buf, len, &q, NULL), 0);
	assert_int_equal(q.nsamples, 1);
	assert_null(profile_sample_values(&q, 0));
	profile_release(&q);
	profile_release(&p);
	free(buf);
}

/* ---- sniffing, streams, writers ---------------------------------------- */

static void test_sniff(void **state)
{
	(void)state;
	struct profile a;
	build_rich(&a);
	unsigned char *raw, *gz;
	size_t rlen, glen;
	encode(&a, PPROF_RAW, &raw, &rlen);
	encode(&a, 6, &gz, &glen);
	assert_int_equal(raw[0], 0x0a);
	for (size_t n = 1; n <= 64; n++)
		assert_int_equal(pprof_sniff(raw, n), 1);
	assert_int_equal(pprof_sniff(raw, rlen), 1);
	assert_int_equal(pprof_sniff(gz, 2), 1);
	assert_int_equal(pprof_sniff(gz, 1), 0);
	assert_int_equal(pprof_sniff("", 0), 0);
	struct profile e;
	profile_init(&e);
	unsigned char *eraw;
	size_t elen;
	encode(&e, PPROF_RAW, &eraw, &elen);
	assert_int_equal(pprof_sniff(eraw, elen), 1); /* just string_table[0] */
	free(eraw);
	profile_release(&e);
	static const char *const texts[] = {
		"main;foo;bar 12\n",
		"\nmain;foo 1\n",
		"app 1234 [000] 12345.678901:     250000 cpu-clock:\n\tffffffff8100 f+0x1 (/x)\n",
		"# comment\n",
		"{\"json\": true}",
		"2;3 4\n",
		"*a 1\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(pprof_sniff(texts[i], strlen(texts[i])), 0);
	free(raw);
	free(gz);
	profile_release(&a);
}

static void test_read_fd(void **state)
{
	(void)state;
	struct profile a, b;
	build_rich(&a);
	unsigned char *gz;
	size_t glen;
	encode(&a, 6, &gz, &glen);
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(fwrite(gz + 4, 1, glen - 4, f), glen - 4);
	assert_int_equal(fflush(f), 0);
	rewind(f);
	/* The first four bytes were "already read" by a sniffer. */
	assert_int_equal(pprof_read_fd(fileno(f), gz, 4, &b, NULL), 0);
	assert_profile_same(&a, &b);
	profile_release(&b);
	fclose(f);

	/* A pipe delivering a truncated file. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], gz, glen / 2), (ssize_t)(glen / 2));
	close(fds[1]);
	struct diag d = {0};
	assert_int_equal(pprof_read_fd(fds[0], NULL, 0, &b, &d), KILN_ERR_TRUNCATED);
	close(fds[0]);
	assert_true(pprof_read_fd(-1, NULL, 0, &b, &d) == -EBADF);
	free(gz);
	profile_release(&a);
}

static void test_write_file(void **state)
{
	(void)state;
	struct profile a, b;
	build_rich(&a);
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(pprof_write(&a, f, PPROF_GZIP_DEFAULT), 0);
	assert_int_equal(fflush(f), 0);
	rewind(f);
	assert_int_equal(pprof_read_fd(fileno(f), NULL, 0, &b, NULL), 0);
	assert_profile_same(&a, &b);
	profile_release(&b);
	fclose(f);
	assert_int_equal(pprof_write(&a, stdout, 10), -EINVAL);
	assert_int_equal(pprof_write(&a, stdout, -2), -EINVAL);
	profile_release(&a);
}

static int fail_write(void *ctx, const void *data, size_t len)
{
	(void)data;
	(void)len;
	return ++*(int *)ctx >= 2 ? -ENOSPC : 0;
}

static void test_write_error(void **state)
{
	(void)state;
	struct profile a;
	profile_init(&a);
	/* Big enough to need several chunks, so the failure hits mid-stream. */
	char frame[64];
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(frame, sizeof(frame), "main;f%d;g%d", i, i * 7);
		assert_int_equal(profile_add_folded(&a, frame, (size_t)n, i + 1), 0);
	}
	int calls = 0;
	assert_int_equal(pprof_write_cb(&a, PPROF_RAW, fail_write, &calls), -ENOSPC);
	assert_int_equal(calls, 2);
	calls = 0;
	assert_int_equal(pprof_write_cb(&a, 1, fail_write, &calls), -ENOSPC);
	profile_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_rich),
		cmocka_unit_test(test_round_trip_stacks),
		cmocka_unit_test(test_folded_through_pprof),
		cmocka_unit_test(test_empty_profile),
		cmocka_unit_test(test_sparse_ids_remapped),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_truncated_gzip),
		cmocka_unit_test(test_truncated_raw),
		cmocka_unit_test(test_corrupt_gzip),
		cmocka_unit_test(test_gzip_members),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_mutated_messages),
		cmocka_unit_test(test_fuzz_regressions),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
