/* pprof: profile.proto <-> struct profile via protobuf-c, gzip via zlib
 * (see pprof.h). The reader decodes into a private profile and hands it
 * over only when every index and id in the message has been checked; the
 * writer streams protobuf-c's output through deflate in fixed-size chunks. */
#include "format/pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/hash.h"
#include "base/linereader.h"
#include "base/xalloc.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;

/* ---- sniffing ---------------------------------------------------------- */

/* Reads a varint at *pos; returns 1, 0 at the end of the data, -1 when it
 * is longer than ten bytes. */
static int sniff_varint(const unsigned char *p, size_t n, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (*pos >= n)
			return 0;
		unsigned char c = p[(*pos)++];
		r |= (uint64_t)(c & 0x7f) << (shift < 64 ? shift : 0);
		if (!(c & 0x80)) {
			*v = r;
			return 1;
		}
	}
	return -1;
}

/* Bit masks of the wire types profile.proto allows, by message and field:
 * varint (1 << 0) or length-delimited (1 << 2; also packed repeated). */
enum { WV = 1 << 0, WL = 1 << 2 };
enum sniff_msg { M_PROFILE, M_VALUE_TYPE, M_SAMPLE, M_MAPPING, M_LOCATION, M_FUNCTION };

static unsigned field_wires(enum sniff_msg msg, uint64_t field)
{
	static const unsigned char profile[16] = {0, WL, WL, WL, WL, WL, WL, WV, WV,
						  WV, WV, WL, WV, WV | WL, WV, WV};
	static const unsigned char sample[4] = {0, WV | WL, WV | WL, WL};
	static const unsigned char location[6] = {0, WV, WV, WV, WL, WV};
	switch (msg) {
	case M_PROFILE: return field < 16 ? profile[field] : 0;
	case M_VALUE_TYPE: return field >= 1 && field <= 2 ? WV : 0;
	case M_SAMPLE: return field < 4 ? sample[field] : 0;
	case M_MAPPING: return field >= 1 && field <= 10 ? WV : 0;
	case M_LOCATION: return field < 6 ? location[field] : 0;
	case M_FUNCTION: return field >= 1 && field <= 5 ? WV : 0;
	}
	return 0;
}

/* Walks the fields of a message in p[0..n), which may be cut short.
 * Returns -1 on a field the schema does not allow, else the count of
 * field tags seen. Nested messages of the Profile are checked one level. */
static int sniff_fields(const unsigned char *p, size_t n, enum sniff_msg msg, int max_fields)
{
	size_t pos = 0;
	int fields = 0;
	while (pos < n && fields < max_fields) {
		uint64_t tag, v;
		int r = sniff_varint(p, n, &pos, &tag);
		if (r <= 0)
			return r < 0 ? -1 : fields;
		uint64_t field = tag >> 3, wt = tag & 7;
		if (wt > 2 || !(field_wires(msg, field) & (1u << wt)))
			return -1;
		/* string_table[0] must be "", so a leading string is empty. */
		if (msg == M_PROFILE && fields == 0 && field == 6 && pos < n && p[pos] != 0)
			return -1;
		fields++;
		r = sniff_varint(p, n, &pos, &v);
		if (r <= 0)
			return r < 0 ? -1 : fields;
		if (wt != 2)
			continue;
		if (v > PPROF_MAX_SIZE)
			return -1;
		size_t avail = n - pos, body = v < avail ? (size_t)v : avail;
		if (msg == M_PROFILE && ((field >= 1 && field <= 5) || field == 11)) {
			static const enum sniff_msg sub[6] = {M_VALUE_TYPE, M_VALUE_TYPE, M_SAMPLE,
							     M_MAPPING, M_LOCATION, M_FUNCTION};
			if (sniff_fields(p + pos, body, sub[field == 11 ? 0 : field], 64) < 0)
				return -1;
		}
		if (v >= avail)
			break;
		pos += (size_t)v;
	}
	return fields;
}

int pprof_sniff(const void *data, size_t len)
{
	const unsigned char *p = data;
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return 1;
	/* Judge as many leading fields as the prefix holds, up to eight. */
	return sniff_fields(p, len, M_PROFILE, 8) > 0;
}

/* ---- reading ----------------------------------------------------------- */

/* Inflates a gzip stream (possibly several members) into a new buffer of
 * at most max bytes. */
static int gunzip(const unsigned char *in, size_t len, size_t max, unsigned char **out,
		  size_t *out_len, struct diag *d)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return diag_set(d, -ENOMEM, 0, "cannot initialise zlib");
	size_t cap = len < max / 4 ? len * 4 + 4096 : max;
	if (cap > max)
		cap = max;
	unsigned char *buf = xmalloc(cap ? cap : 1);
	size_t have = 0, in_left = len;
	int rc = 0;
	zs.next_in = (unsigned char *)in;
	for (;;) {
		if (have == cap && cap < max) {
			cap = cap > max / 2 ? max : cap * 2;
			buf = xrealloc(buf, cap);
		}
		/* At the cap, inflate into one spare byte: any output is too much. */
		unsigned char spare;
		size_t room = cap - have;
		zs.next_out = room ? buf + have : &spare;
		zs.avail_out = room ? (room > UINT32_MAX ? UINT32_MAX : (uInt)room) : 1;
		zs.avail_in = in_left > UINT32_MAX ? UINT32_MAX : (uInt)in_left;
		size_t in_before = zs.avail_in, out_before = zs.avail_out;
		int zr = inflate(&zs, Z_NO_FLUSH);
		size_t produced = out_before - zs.avail_out;
		in_left -= in_before - zs.avail_in;
		if (!room && produced) {
			rc = diag_set(d, KILN_ERR_TOO_BIG, 0,
				      "gzip data decompresses to more than %zu bytes", max);
			break;
		}
		have += room ? produced : 0;
		if (zr == Z_STREAM_END) {
			if (in_left == 0)
				break;
			/* Another gzip member may follow, as gzip(1) allows. */
			if (in_left >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
				inflateReset(&zs);
				continue;
			}
			rc = diag_set(d, KILN_ERR_FORMAT, 0, "data after the end of the gzip stream");
			break;
		}
		if (zr == Z_OK || (zr == Z_BUF_ERROR && zs.avail_out == 0))
			continue;
		if (zr == Z_BUF_ERROR) {
			rc = diag_set(d, KILN_ERR_TRUNCATED, 0, "gzip data ends early (after %zu bytes)",
				      len);
			break;
		}
		if (zr == Z_MEM_ERROR) {
			rc = diag_set(d, -ENOMEM, 0, "out of memory in zlib");
			break;
		}
		rc = diag_set(d, KILN_ERR_FORMAT, 0, "corrupt gzip data: %s",
			      zs.msg ? zs.msg : "inflate failed");
		break;
	}
	inflateEnd(&zs);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = have;
	return 0;
}

/* Maps a message's ids to model ids: the i-th entry becomes id i + 1. */
struct idmap {
	uint64_t *keys; /* open addressing; 0 = empty (ids are never 0) */
	uint64_t *vals;
	size_t cap;
	int identity; /* every file id already equals its position + 1 */
};

static void idmap_release(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* Builds the map from n ids read with get(ctx, i). Fails on an id of 0 or
 * a repeated id. what names the table for the message. */
static int idmap_build(struct idmap *m, size_t n, uint64_t (*get)(const pb_profile *, size_t),
		       const pb_profile *items, const char *what, struct diag *d)
{
	memset(m, 0, sizeof(*m));
	m->identity = 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t id = get(items, i);
		if (id == 0)
			return diag_set(d, KILN_ERR_FORMAT, 0, "%s %zu has id 0", what, i);
		if (id != i + 1)
			m->identity = 0;
	}
	if (m->identity)
		return 0;
	m->cap = 16;
	while (m->cap < n * 2)
		m->cap *= 2;
	m->keys = xcalloc(m->cap, sizeof(*m->keys));
	m->vals = xcalloc(m->cap, sizeof(*m->vals));
	for (size_t i = 0; i < n; i++) {
		uint64_t id = get(items, i);
		size_t j = (size_t)hash_mix(id, 0x9e3779b97f4a7c15ULL) & (m->cap - 1);
		while (m->keys[j]) {
			if (m->keys[j] == id) {
				idmap_release(m);
				return diag_set(d, KILN_ERR_FORMAT, 0, "%s id %" PRIu64 " appears twice",
						what, id);
			}
			j = (j + 1) & (m->cap - 1);
		}
		m->keys[j] = id;
		m->vals[j] = i + 1;
	}
	return 0;
}

/* Returns the model id for file id, or 0 when there is no such entry. */
static uint64_t idmap_get(const struct idmap *m, size_t n, uint64_t id)
{
	if (m->identity)
		return id && id <= n ? id : 0;
	if (!id)
		return 0;
	size_t j = (size_t)hash_mix(id, 0x9e3779b97f4a7c15ULL) & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == id)
			return m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	return 0;
}

static uint64_t mapping_id_at(const pb_profile *m, size_t i)
{
	return m->mapping[i]->id;
}

static uint64_t function_id_at(const pb_profile *m, size_t i)
{
	return m->function[i]->id;
}

static uint64_t location_id_at(const pb_profile *m, size_t i)
{
	return m->location[i]->id;
}

struct reader {
	const pb_profile *m;
	struct profile *p;
	uint32_t *str; /* file string index -> strtab id */
	struct idmap maps, funcs, locs;
	struct diag *d;
};

/* Translates string index v of the message; fails when out of range. */
static int rstr(struct reader *r, int64_t v, uint32_t *out, const char *what)
{
	if (v < 0 || (uint64_t)v >= r->m->n_string_table)
		return diag_set(r->d, KILN_ERR_FORMAT, 0,
				"%s: string index %" PRId64 " out of range (table has %zu)", what, v,
				r->m->n_string_table);
	*out = r->str[v];
	return 0;
}

static int read_value_type(struct reader *r, const Perftools__Profiles__ValueType *vt,
			   struct profile_value_type *out, const char *what)
{
	struct profile_value_type t = {0};
	if (vt) {
		int rc = rstr(r, vt->type, &t.type, what);
		if (!rc)
			rc = rstr(r, vt->unit, &t.unit, what);
		if (rc)
			return rc;
	}
	*out = t;
	return 0;
}

static int read_header(struct reader *r)
{
	const pb_profile *m = r->m;
	struct profile *p = r->p;
	int rc;
	for (size_t i = 0; i < m->n_sample_type; i++) {
		struct profile_value_type vt;
		if ((rc = read_value_type(r, m->sample_type[i], &vt, "sample_type")))
			return rc;
		p->sample_types = xgrow(p->sample_types, sizeof(*p->sample_types),
					p->nsample_types + 1, &p->sample_types_cap);
		p->sample_types[p->nsample_types++] = vt;
	}
	if ((rc = read_value_type(r, m->period_type, &p->period_type, "period_type")) ||
	    (rc = rstr(r, m->default_sample_type, &p->default_sample_type, "default_sample_type")) ||
	    (rc = rstr(r, m->drop_frames, &p->drop_frames, "drop_frames")) ||
	    (rc = rstr(r, m->keep_frames, &p->keep_frames, "keep_frames")) ||
	    (rc = rstr(r, m->doc_url, &p->doc_url, "doc_url")))
		return rc;
	p->period = m->period;
	p->time_nanos = m->time_nanos;
	p->duration_nanos = m->duration_nanos;
	for (size_t i = 0; i < m->n_comment; i++) {
		uint32_t id;
		if ((rc = rstr(r, m->comment[i], &id, "comment")))
			return rc;
		p->comments = xgrow(p->comments, sizeof(*p->comments), p->ncomments + 1,
				    &p->comments_cap);
		p->comments[p->ncomments++] = id;
	}
	return 0;
}

static int read_tables(struct reader *r)
{
	const pb_profile *m = r->m;
	struct profile *p = r->p;
	int rc;
	for (size_t i = 0; i < m->n_mapping; i++) {
		const Perftools__Profiles__Mapping *mm = m->mapping[i];
		uint32_t file, build;
		if ((rc = rstr(r, mm->filename, &file, "mapping filename")) ||
		    (rc = rstr(r, mm->build_id, &build, "mapping build_id")))
			return rc;
		unsigned flags = (mm->has_functions ? PROFILE_MAPPING_HAS_FUNCTIONS : 0) |
				 (mm->has_filenames ? PROFILE_MAPPING_HAS_FILENAMES : 0) |
				 (mm->has_line_numbers ? PROFILE_MAPPING_HAS_LINE_NUMBERS : 0) |
				 (mm->has_inline_frames ? PROFILE_MAPPING_HAS_INLINE_FRAMES : 0);
		profile_add_mapping(p, mm->memory_start, mm->memory_limit, mm->file_offset, file,
				    build, flags);
	}
	for (size_t i = 0; i < m->n_function; i++) {
		const Perftools__Profiles__Function *f = m->function[i];
		uint32_t name, sys, file;
		if ((rc = rstr(r, f->name, &name, "function name")) ||
		    (rc = rstr(r, f->system_name, &sys, "function system_name")) ||
		    (rc = rstr(r, f->filename, &file, "function filename")))
			return rc;
		profile_add_function(p, name, sys, file, f->start_line);
	}
	struct profile_line *lines = NULL;
	size_t lines_cap = 0;
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *l = m->location[i];
		uint64_t mid = idmap_get(&r->maps, m->n_mapping, l->mapping_id);
		if (l->mapping_id && !mid) {
			free(lines);
			return diag_set(r->d, KILN_ERR_FORMAT, 0,
					"location %" PRIu64 " refers to missing mapping %" PRIu64,
					l->id, l->mapping_id);
		}
		lines = xgrow(lines, sizeof(*lines), l->n_line, &lines_cap);
		for (size_t j = 0; j < l->n_line; j++) {
			const Perftools__Profiles__Line *ln = l->line[j];
			uint64_t fid = idmap_get(&r->funcs, m->n_function, ln->function_id);
			if (ln->function_id && !fid) {
				free(lines);
				return diag_set(r->d, KILN_ERR_FORMAT, 0,
						"location %" PRIu64 " refers to missing function %" PRIu64,
						l->id, ln->function_id);
			}
			lines[j].function_id = fid;
			lines[j].line = ln->line;
			lines[j].column = ln->column;
		}
		if (!profile_add_location(p, mid, l->address, lines, l->n_line, l->is_folded)) {
			free(lines);
			return diag_set(r->d, KILN_ERR_FORMAT, 0, "location %" PRIu64 " is invalid",
					l->id);
		}
	}
	free(lines);
	return 0;
}

static int read_samples(struct reader *r)
{
	const pb_profile *m = r->m;
	struct profile *p = r->p;
	uint64_t *locs = NULL;
	size_t locs_cap = 0;
	struct profile_label *labels = NULL;
	size_t labels_cap = 0;
	int rc = 0;
	for (size_t i = 0; i < m->n_sample && !rc; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];
		if (s->n_value != p->nsample_types) {
			rc = diag_set(r->d, KILN_ERR_FORMAT, 0,
				      "sample %zu has %zu values for %zu sample types", i, s->n_value,
				      p->nsample_types);
			break;
		}
		locs = xgrow(locs, sizeof(*locs), s->n_location_id, &locs_cap);
		for (size_t j = 0; j < s->n_location_id && !rc; j++) {
			locs[j] = idmap_get(&r->locs, m->n_location, s->location_id[j]);
			if (!locs[j])
				rc = diag_set(r->d, KILN_ERR_FORMAT, 0,
					      "sample %zu refers to missing location %" PRIu64, i,
					      s->location_id[j]);
		}
		labels = xgrow(labels, sizeof(*labels), s->n_label, &labels_cap);
		for (size_t j = 0; j < s->n_label && !rc; j++) {
			const Perftools__Profiles__Label *lb = s->label[j];
			labels[j].num = lb->num;
			if ((rc = rstr(r, lb->key, &labels[j].key, "label key")) ||
			    (rc = rstr(r, lb->str, &labels[j].str, "label str")) ||
			    (rc = rstr(r, lb->num_unit, &labels[j].num_unit, "label num_unit")))
				break;
		}
		if (!rc && profile_add_sample(p, s->value, s->n_value, locs, s->n_location_id, labels,
					      s->n_label))
			rc = diag_set(r->d, KILN_ERR_FORMAT, 0, "sample %zu is invalid", i);
	}
	free(locs);
	free(labels);
	return rc;
}

/* Turns a decoded message into a profile; *out is written on success. */
static int convert(const pb_profile *m, struct profile *out, struct diag *d)
{
	if (m->n_string_table == 0 || m->string_table[0].len != 0)
		return diag_set(d, KILN_ERR_FORMAT, 0, "string table does not start with \"\"");
	struct reader r = {.m = m, .d = d};
	struct profile p;
	profile_init(&p);
	r.p = &p;
	r.str = xmalloc(m->n_string_table * sizeof(*r.str));
	for (size_t i = 0; i < m->n_string_table; i++)
		r.str[i] = profile_intern(&p, (const char *)m->string_table[i].data,
					  m->string_table[i].len);
	int rc = read_header(&r);
	if (!rc)
		rc = idmap_build(&r.maps, m->n_mapping, mapping_id_at, m,
				 "mapping", d);
	if (!rc)
		rc = idmap_build(&r.funcs, m->n_function, function_id_at, m, "function", d);
	if (!rc)
		rc = idmap_build(&r.locs, m->n_location, location_id_at, m, "location", d);
	if (!rc)
		rc = read_tables(&r);
	if (!rc)
		rc = read_samples(&r);
	idmap_release(&r.maps);
	idmap_release(&r.funcs);
	idmap_release(&r.locs);
	free(r.str);
	if (rc) {
		profile_release(&p);
		return rc;
	}
	*out = p;
	return 0;
}

int pprof_read_capped(const void *data, size_t len, size_t max_size, struct profile *out,
		      struct diag *d)
{
	const unsigned char *in = data;
	unsigned char *plain = NULL;
	size_t plain_len = len;
	if (len == 0)
		return diag_set(d, KILN_ERR_EMPTY, 0, "empty input");
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		int rc = gunzip(in, len, max_size, &plain, &plain_len, d);
		if (rc)
			return rc;
		if (plain_len == 0) {
			free(plain);
			return diag_set(d, KILN_ERR_EMPTY, 0, "gzip data holds no profile");
		}
		in = plain;
	} else if (len > max_size) {
		return diag_set(d, KILN_ERR_TOO_BIG, 0, "profile is larger than %zu bytes", max_size);
	}
	pb_profile *m = perftools__profiles__profile__unpack(NULL, plain_len, in);
	int rc;
	if (!m) {
		rc = diag_set(d, KILN_ERR_FORMAT, 0, "not a valid pprof protobuf message");
	} else {
		rc = convert(m, out, d);
		perftools__profiles__profile__free_unpacked(m, NULL);
	}
	free(plain);
	return rc;
}

int pprof_read(const void *data, size_t len, struct profile *out, struct diag *d)
{
	return pprof_read_capped(data, len, PPROF_MAX_SIZE, out, d);
}

int pprof_read_fd(int fd, const void *prefix, size_t prefix_len, struct profile *out,
		  struct diag *d)
{
	size_t cap = prefix_len + 65536, have = prefix_len;
	unsigned char *buf = xmalloc(cap);
	if (prefix_len)
		memcpy(buf, prefix, prefix_len);
	for (;;) {
		if (have > PPROF_MAX_SIZE) {
			free(buf);
			return diag_set(d, KILN_ERR_TOO_BIG, 0, "input is larger than %zu bytes",
					PPROF_MAX_SIZE);
		}
		if (have == cap) {
			cap = cap > PPROF_MAX_SIZE / 2 ? PPROF_MAX_SIZE + 1 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		size_t want = cap - have;
		long n = read_full(fd, buf + have, want);
		if (n < 0) {
			free(buf);
			return diag_set(d, (int)n, 0, "read error");
		}
		have += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	int rc = pprof_read(buf, have, out, d);
	free(buf);
	return rc;
}

/* ---- writing ----------------------------------------------------------- */

enum { CHUNK = 64 * 1024 };

/* A protobuf-c output buffer that stages bytes and feeds them to deflate
 * or straight to the sink. */
struct sink {
	ProtobufCBuffer base;
	pprof_write_fn fn;
	void *ctx;
	int gzip;
	z_stream zs;
	unsigned char stage[CHUNK];
	size_t staged;
	unsigned char zout[CHUNK];
	int err;
};

static int sink_deflate(struct sink *s, const unsigned char *data, size_t len, int flush)
{
	s->zs.next_in = (unsigned char *)data;
	s->zs.avail_in = (uInt)len;
	for (;;) {
		s->zs.next_out = s->zout;
		s->zs.avail_out = sizeof(s->zout);
		int zr = deflate(&s->zs, flush);
		if (zr == Z_STREAM_ERROR)
			return -EIO;
		size_t n = sizeof(s->zout) - s->zs.avail_out;
		if (n) {
			int rc = s->fn(s->ctx, s->zout, n);
			if (rc)
				return rc;
		}
		if (flush == Z_FINISH ? zr == Z_STREAM_END : s->zs.avail_out != 0)
			return 0;
	}
}

static int sink_emit(struct sink *s, const unsigned char *data, size_t len)
{
	if (!len)
		return 0;
	return s->gzip ? sink_deflate(s, data, len, Z_NO_FLUSH) : s->fn(s->ctx, data, len);
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct sink *s = (struct sink *)b;
	while (len && !s->err) {
		size_t n = sizeof(s->stage) - s->staged;
		if (n > len)
			n = len;
		memcpy(s->stage + s->staged, data, n);
		s->staged += n;
		data += n;
		len -= n;
		if (s->staged == sizeof(s->stage)) {
			s->err = sink_emit(s, s->stage, s->staged);
			s->staged = 0;
		}
	}
}

/* The message tree for one profile; it borrows the profile's arrays. */
struct tree {
	pb_profile msg;
	ProtobufCBinaryData *strings;
	Perftools__Profiles__ValueType *vts, **vtp, period_type;
	Perftools__Profiles__Sample *samples, **samplep;
	Perftools__Profiles__Label *labels, **labelp;
	Perftools__Profiles__Mapping *maps, **mapp;
	Perftools__Profiles__Location *locs, **locp;
	Perftools__Profiles__Line *lines, **linep;
	Perftools__Profiles__Function *funcs, **funcp;
	int64_t *comments;
};

static void tree_release(struct tree *t)
{
	free(t->strings);
	free(t->vts);
	free(t->vtp);
	free(t->samples);
	free(t->samplep);
	free(t->labels);
	free(t->labelp);
	free(t->maps);
	free(t->mapp);
	free(t->locs);
	free(t->locp);
	free(t->lines);
	free(t->linep);
	free(t->funcs);
	free(t->funcp);
	free(t->comments);
}

static void tree_build(struct tree *t, const struct profile *p)
{
	static const pb_profile msg_init = PERFTOOLS__PROFILES__PROFILE__INIT;
	static const Perftools__Profiles__ValueType vt_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	static const Perftools__Profiles__Sample sample_init = PERFTOOLS__PROFILES__SAMPLE__INIT;
	static const Perftools__Profiles__Label label_init = PERFTOOLS__PROFILES__LABEL__INIT;
	static const Perftools__Profiles__Mapping map_init = PERFTOOLS__PROFILES__MAPPING__INIT;
	static const Perftools__Profiles__Location loc_init = PERFTOOLS__PROFILES__LOCATION__INIT;
	static const Perftools__Profiles__Line line_init = PERFTOOLS__PROFILES__LINE__INIT;
	static const Perftools__Profiles__Function func_init = PERFTOOLS__PROFILES__FUNCTION__INIT;
	pb_profile *m = &t->msg;
	memset(t, 0, sizeof(*t));
	*m = msg_init;

	size_t nstr = strtab_count(&p->strs);
	t->strings = xcalloc(nstr, sizeof(*t->strings));
	for (size_t i = 0; i < nstr; i++) {
		t->strings[i].data = (uint8_t *)strtab_get(&p->strs, (uint32_t)i);
		t->strings[i].len = strtab_len(&p->strs, (uint32_t)i);
	}
	m->n_string_table = nstr;
	m->string_table = t->strings;

	t->vts = xcalloc(p->nsample_types, sizeof(*t->vts));
	t->vtp = xcalloc(p->nsample_types, sizeof(*t->vtp));
	for (size_t i = 0; i < p->nsample_types; i++) {
		t->vts[i] = vt_init;
		t->vts[i].type = p->sample_types[i].type;
		t->vts[i].unit = p->sample_types[i].unit;
		t->vtp[i] = &t->vts[i];
	}
	m->n_sample_type = p->nsample_types;
	m->sample_type = t->vtp;

	t->labels = xcalloc(p->nlabels, sizeof(*t->labels));
	t->labelp = xcalloc(p->nlabels, sizeof(*t->labelp));
	for (size_t i = 0; i < p->nlabels; i++) {
		const struct profile_label *l = &p->labels[i];
		t->labels[i] = label_init;
		t->labels[i].key = l->key;
		t->labels[i].str = l->str;
		t->labels[i].num = l->num;
		t->labels[i].num_unit = l->num_unit;
		t->labelp[i] = &t->labels[i];
	}
	t->samples = xcalloc(p->nsamples, sizeof(*t->samples));
	t->samplep = xcalloc(p->nsamples, sizeof(*t->samplep));
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		Perftools__Profiles__Sample *o = &t->samples[i];
		*o = sample_init;
		o->n_location_id = s->nlocs;
		/* The model's arrays may be NULL when empty; no offsets into NULL. */
		o->location_id = s->nlocs ? p->sample_locs + s->loc_off : NULL;
		o->n_value = p->nsample_types;
		o->value = p->nsample_types ? p->values + i * p->nsample_types : NULL;
		o->n_label = s->nlabels;
		o->label = t->labelp + s->label_off;
		t->samplep[i] = o;
	}
	m->n_sample = p->nsamples;
	m->sample = t->samplep;

	t->maps = xcalloc(p->nmappings, sizeof(*t->maps));
	t->mapp = xcalloc(p->nmappings, sizeof(*t->mapp));
	for (size_t i = 0; i < p->nmappings; i++) {
		const struct profile_mapping *mp = &p->mappings[i];
		Perftools__Profiles__Mapping *o = &t->maps[i];
		*o = map_init;
		o->id = mp->id;
		o->memory_start = mp->start;
		o->memory_limit = mp->limit;
		o->file_offset = mp->offset;
		o->filename = mp->filename;
		o->build_id = mp->build_id;
		o->has_functions = !!(mp->flags & PROFILE_MAPPING_HAS_FUNCTIONS);
		o->has_filenames = !!(mp->flags & PROFILE_MAPPING_HAS_FILENAMES);
		o->has_line_numbers = !!(mp->flags & PROFILE_MAPPING_HAS_LINE_NUMBERS);
		o->has_inline_frames = !!(mp->flags & PROFILE_MAPPING_HAS_INLINE_FRAMES);
		t->mapp[i] = o;
	}
	m->n_mapping = p->nmappings;
	m->mapping = t->mapp;

	t->lines = xcalloc(p->nlines, sizeof(*t->lines));
	t->linep = xcalloc(p->nlines, sizeof(*t->linep));
	for (size_t i = 0; i < p->nlines; i++) {
		t->lines[i] = line_init;
		t->lines[i].function_id = p->lines[i].function_id;
		t->lines[i].line = p->lines[i].line;
		t->lines[i].column = p->lines[i].column;
		t->linep[i] = &t->lines[i];
	}
	t->locs = xcalloc(p->nlocations, sizeof(*t->locs));
	t->locp = xcalloc(p->nlocations, sizeof(*t->locp));
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct profile_location *l = &p->locations[i];
		Perftools__Profiles__Location *o = &t->locs[i];
		*o = loc_init;
		o->id = l->id;
		o->mapping_id = l->mapping_id;
		o->address = l->address;
		o->n_line = l->nlines;
		o->line = t->linep + l->line_off;
		o->is_folded = !!l->is_folded;
		t->locp[i] = o;
	}
	m->n_location = p->nlocations;
	m->location = t->locp;

	t->funcs = xcalloc(p->nfunctions, sizeof(*t->funcs));
	t->funcp = xcalloc(p->nfunctions, sizeof(*t->funcp));
	for (size_t i = 0; i < p->nfunctions; i++) {
		const struct profile_function *f = &p->functions[i];
		Perftools__Profiles__Function *o = &t->funcs[i];
		*o = func_init;
		o->id = f->id;
		o->name = f->name;
		o->system_name = f->system_name;
		o->filename = f->filename;
		o->start_line = f->start_line;
		t->funcp[i] = o;
	}
	m->n_function = p->nfunctions;
	m->function = t->funcp;

	m->drop_frames = p->drop_frames;
	m->keep_frames = p->keep_frames;
	m->time_nanos = p->time_nanos;
	m->duration_nanos = p->duration_nanos;
	if (p->period_type.type || p->period_type.unit) {
		t->period_type = vt_init;
		t->period_type.type = p->period_type.type;
		t->period_type.unit = p->period_type.unit;
		m->period_type = &t->period_type;
	}
	m->period = p->period;
	t->comments = xcalloc(p->ncomments, sizeof(*t->comments));
	for (size_t i = 0; i < p->ncomments; i++)
		t->comments[i] = p->comments[i];
	m->n_comment = p->ncomments;
	m->comment = t->comments;
	m->default_sample_type = p->default_sample_type;
	m->doc_url = p->doc_url;
}

int pprof_write_cb(const struct profile *p, int gzip_level, pprof_write_fn fn, void *ctx)
{
	if (gzip_level < PPROF_GZIP_DEFAULT || gzip_level > 9)
		return -EINVAL;
	struct sink *s = xcalloc(1, sizeof(*s));
	s->base.append = sink_append;
	s->fn = fn;
	s->ctx = ctx;
	s->gzip = gzip_level != PPROF_RAW;
	if (s->gzip && deflateInit2(&s->zs, gzip_level, Z_DEFLATED, 16 + MAX_WBITS, 8,
				    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(s);
		return -ENOMEM;
	}
	struct tree t;
	tree_build(&t, p);
	perftools__profiles__profile__pack_to_buffer(&t.msg, &s->base);
	tree_release(&t);
	int rc = s->err;
	if (!rc)
		rc = sink_emit(s, s->stage, s->staged);
	if (!rc && s->gzip)
		rc = sink_deflate(s, NULL, 0, Z_FINISH);
	if (s->gzip)
		deflateEnd(&s->zs);
	free(s);
	return rc;
}

static int write_file(void *ctx, const void *data, size_t len)
{
	FILE *f = ctx;
	if (fwrite(data, 1, len, f) == len)
		return 0;
	return errno ? -errno : -EIO;
}

int pprof_write(const struct profile *p, FILE *out, int gzip_level)
{
	errno = 0;
	int rc = pprof_write_cb(p, gzip_level, write_file, out);
	if (!rc && ferror(out))
		rc = errno ? -errno : -EIO;
	return rc;
}

struct membuf {
	unsigned char *buf;
	size_t len, cap;
};

static int write_mem(void *ctx, const void *data, size_t len)
{
	struct membuf *mb = ctx;
	mb->buf = xgrow(mb->buf, 1, mb->len + len, &mb->cap);
	memcpy(mb->buf + mb->len, data, len);
	mb->len += len;
	return 0;
}

int pprof_encode(const struct profile *p, int gzip_level, void **data, size_t *len)
{
	struct membuf mb = {0};
	int rc = pprof_write_cb(p, gzip_level, write_mem, &mb);
	if (rc) {
		free(mb.buf);
		return rc;
	}
	if (!mb.buf)
		mb.buf = xmalloc(1);
	*data = mb.buf;
	*len = mb.len;
	return 0;
}
