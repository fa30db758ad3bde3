/* runsummary: summary.json written and read with jansson, driven by tables
 * of fields (key, type, offset), so the writer and the reader cannot drift
 * apart: a field is added to the struct and to one table.
 * Invariant: read(write(s)) == s for every field in the tables; a reader
 * error leaves the struct zeroed and says which key was wrong. */
#include "format/runsummary.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

enum field_type { F_STR, F_F64, F_U64, F_INT, F_BOOL };

struct field {
	const char *key;
	enum field_type type;
	size_t off;
};

/* An array of records (each described by fields) or of strings. */
struct array {
	const char *key;
	size_t ptr_off, count_off; /* the pointer and its count, in the parent */
	size_t elem_size;          /* 0: an array of strings */
	const struct field *fields;
	size_t nfields;
};

/* A section: an optional object, present when its has_* flag is set. */
struct section {
	const char *key;
	size_t has_off, base_off;
	const struct field *fields;
	size_t nfields;
	const struct array *arrays;
	size_t narrays;
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define RS(m) offsetof(struct runsummary, m)

static const struct field top_fields[] = {
	{"version", F_INT, RS(version)},
	{"name", F_STR, RS(name)},
	{"started", F_STR, RS(started)},
	{"duration_s", F_F64, RS(duration_s)},
	{"target_end", F_STR, RS(target_end)},
	{"stopped_by", F_STR, RS(stopped_by)},
	{"load_command", F_STR, RS(load_command)},
	{"load_exit", F_INT, RS(load_exit)},
	{"load_s", F_F64, RS(load_s)},
};
static const struct array top_arrays[] = {
	{"command", RS(argv), RS(argc), 0, NULL, 0},
};

#define FN(m) offsetof(struct runsummary_func, m)
static const struct field func_fields[] = {
	{"name", F_STR, FN(name)},
	{"self_pct", F_F64, FN(self_pct)},
	{"total_pct", F_F64, FN(total_pct)},
	{"self_s", F_F64, FN(self_s)},
};
#define SI(m) offsetof(struct runsummary_site, m)
static const struct field site_fields[] = {
	{"name", F_STR, SI(name)},
	{"bytes", F_U64, SI(bytes)},
	{"count", F_U64, SI(count)},
	{"peak_bytes", F_U64, SI(peak_bytes)},
	{"leaked_bytes", F_U64, SI(leaked_bytes)},
};
#define CK(m) offsetof(struct runsummary_check, m)
static const struct field check_fields[] = {
	{"budget", F_STR, CK(budget)},
	{"limit", F_STR, CK(limit)},
	{"measured", F_STR, CK(measured)},
	{"verdict", F_STR, CK(verdict)},
};

#define CPU(m) offsetof(__typeof__(((struct runsummary *)0)->cpu), m)
static const struct field cpu_fields[] = {
	{"profile", F_STR, CPU(profile)},
	{"flame", F_STR, CPU(flame)},
	{"report", F_STR, CPU(report)},
	{"samples", F_U64, CPU(samples)},
	{"frequency_hz", F_F64, CPU(frequency_hz)},
	{"cpu_s", F_F64, CPU(cpu_s)},
};
static const struct array cpu_arrays[] = {
	{"top", CPU(top), CPU(ntop), sizeof(struct runsummary_func), func_fields, N(func_fields)},
};

#define OFF(m) offsetof(__typeof__(((struct runsummary *)0)->offcpu), m)
static const struct field offcpu_fields[] = {
	{"profile", F_STR, OFF(profile)},
	{"flame", F_STR, OFF(flame)},
	{"wait_s", F_F64, OFF(wait_s)},
	{"wait_pct", F_F64, OFF(wait_pct)},
	{"lock_wait_s", F_F64, OFF(lock_wait_s)},
	{"lock_wait_pct", F_F64, OFF(lock_wait_pct)},
};
static const struct array offcpu_arrays[] = {
	{"top", OFF(top), OFF(ntop), sizeof(struct runsummary_func), func_fields, N(func_fields)},
};

#define HP(m) offsetof(__typeof__(((struct runsummary *)0)->heap), m)
#define LK(m) (HP(leaks) + offsetof(struct runsummary_leaks, m))
static const struct field heap_fields[] = {
	{"trace", F_STR, HP(trace)},
	{"profile", F_STR, HP(profile)},
	{"chart", F_STR, HP(chart)},
	{"leaks_file", F_STR, HP(leaks_file)},
	{"allocations", F_U64, HP(allocations)},
	{"allocated_bytes", F_U64, HP(allocated_bytes)},
	{"alloc_rate_bps", F_F64, HP(alloc_rate_bps)},
	{"peak_bytes", F_U64, HP(peak_bytes)},
	{"peak_t", F_F64, HP(peak_t)},
	{"final_bytes", F_U64, HP(final_bytes)},
	{"growth_bph", F_F64, HP(growth_bph)},
	{"peak_rss", F_U64, HP(peak_rss)},
	{"frag_pct", F_F64, HP(frag_pct)},
	{"temporary", F_U64, HP(temporary)},
	{"definitely_lost_bytes", F_U64, LK(definite_bytes)},
	{"definitely_lost_blocks", F_U64, LK(definite_blocks)},
	{"indirectly_lost_bytes", F_U64, LK(indirect_bytes)},
	{"indirectly_lost_blocks", F_U64, LK(indirect_blocks)},
	{"possibly_lost_bytes", F_U64, LK(possible_bytes)},
	{"possibly_lost_blocks", F_U64, LK(possible_blocks)},
	{"still_reachable_bytes", F_U64, LK(reachable_bytes)},
	{"still_reachable_blocks", F_U64, LK(reachable_blocks)},
};
static const struct array heap_arrays[] = {
	{"top", HP(top), HP(ntop), sizeof(struct runsummary_site), site_fields, N(site_fields)},
};

#define MEM(m) offsetof(__typeof__(((struct runsummary *)0)->mem), m)
static const struct field mem_fields[] = {
	{"csv", F_STR, MEM(csv)},
	{"chart", F_STR, MEM(chart)},
	{"samples", F_U64, MEM(samples)},
	{"interval_s", F_F64, MEM(interval_s)},
	{"peak_rss", F_U64, MEM(peak_rss)},
	{"final_rss", F_U64, MEM(final_rss)},
	{"peak_t", F_F64, MEM(peak_t)},
	{"growth_mb_per_hour", F_F64, MEM(growth_mb_per_hour)},
	{"verdict", F_STR, MEM(verdict)},
};

#define CKS(m) offsetof(__typeof__(((struct runsummary *)0)->checks), m)
static const struct field checks_fields[] = {
	{"checked_at", F_STR, CKS(checked_at)},
	{"passed", F_BOOL, CKS(passed)},
};
static const struct array checks_arrays[] = {
	{"items", CKS(items), CKS(n), sizeof(struct runsummary_check), check_fields, N(check_fields)},
};

static const struct section sections[] = {
	{"cpu", RS(has_cpu), RS(cpu), cpu_fields, N(cpu_fields), cpu_arrays, N(cpu_arrays)},
	{"offcpu", RS(has_offcpu), RS(offcpu), offcpu_fields, N(offcpu_fields), offcpu_arrays, N(offcpu_arrays)},
	{"heap", RS(has_heap), RS(heap), heap_fields, N(heap_fields), heap_arrays, N(heap_arrays)},
	{"mem", RS(has_mem), RS(mem), mem_fields, N(mem_fields), NULL, 0},
	{"checks", RS(has_checks), RS(checks), checks_fields, N(checks_fields), checks_arrays, N(checks_arrays)},
};

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* ---- writing ---- */

static json_t *field_value(const void *base, const struct field *f)
{
	switch (f->type) {
	case F_STR: {
		const char *v = *AT(base, f->off, char *const);
		return v ? json_string(v) : json_null();
	}
	case F_F64: {
		double v = *AT(base, f->off, const double);
		return isfinite(v) ? json_real(v) : json_null();
	}
	case F_U64: {
		uint64_t v = *AT(base, f->off, const uint64_t);
		return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
	}
	case F_INT:
		return json_integer(*AT(base, f->off, const int));
	case F_BOOL:
		return json_boolean(*AT(base, f->off, const bool));
	}
	return json_null();
}

static int put_fields(json_t *obj, const void *base, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (json_object_set_new(obj, f[i].key, field_value(base, &f[i])) != 0)
			return -ENOMEM;
	return 0;
}

static int put_array(json_t *obj, const void *base, const struct array *a)
{
	json_t *arr = json_array();
	if (!arr || json_object_set_new(obj, a->key, arr) != 0)
		return -ENOMEM;
	const char *elems = *AT(base, a->ptr_off, char *const);
	size_t count = *AT(base, a->count_off, const size_t);
	for (size_t i = 0; i < count; i++) {
		json_t *v;
		if (a->elem_size == 0) {
			v = json_string(((char *const *)(const void *)elems)[i]);
		} else {
			v = json_object();
			if (v && put_fields(v, elems + i * a->elem_size, a->fields, a->nfields) != 0) {
				json_decref(v);
				v = NULL;
			}
		}
		if (!v || json_array_append_new(arr, v) != 0)
			return -ENOMEM;
	}
	return 0;
}

static json_t *to_json(const struct runsummary *s)
{
	json_t *root = json_object();
	if (!root || put_fields(root, s, top_fields, N(top_fields)) != 0)
		goto fail;
	for (size_t i = 0; i < N(top_arrays); i++)
		if (put_array(root, s, &top_arrays[i]) != 0)
			goto fail;
	for (size_t i = 0; i < N(sections); i++) {
		const struct section *sec = &sections[i];
		if (!*AT(s, sec->has_off, const bool))
			continue;
		const void *base = (const char *)s + sec->base_off;
		json_t *obj = json_object();
		if (!obj || json_object_set_new(root, sec->key, obj) != 0 ||
		    put_fields(obj, base, sec->fields, sec->nfields) != 0)
			goto fail;
		for (size_t j = 0; j < sec->narrays; j++)
			if (put_array(obj, base, &sec->arrays[j]) != 0)
				goto fail;
	}
	return root;
fail:
	json_decref(root);
	return NULL;
}

static int dump_callback(const char *buffer, size_t size, void *data)
{
	return fwrite(buffer, 1, size, data) == size ? 0 : -1;
}

int runsummary_write(const struct runsummary *s, FILE *out)
{
	json_t *root = to_json(s);
	if (!root)
		return -ENOMEM;
	int rc = json_dump_callback(root, dump_callback, out, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
	json_decref(root);
	if (rc != 0 || fputc('\n', out) == EOF)
		return errno ? -errno : -EIO;
	return 0;
}

int runsummary_write_dir(const struct runsummary *s, const char *dir)
{
	size_t len = strlen(dir) + sizeof("/" RUNSUMMARY_FILE ".tmp");
	char *path = xmalloc(len), *tmp = xmalloc(len);
	snprintf(path, len, "%s/%s", dir, RUNSUMMARY_FILE);
	snprintf(tmp, len, "%s/%s.tmp", dir, RUNSUMMARY_FILE);
	int rc = 0;
	FILE *f = fopen(tmp, "w");
	if (!f) {
		rc = -errno;
	} else {
		errno = 0;
		rc = runsummary_write(s, f);
		if (fclose(f) != 0 && rc == 0)
			rc = -errno;
		if (rc == 0 && rename(tmp, path) != 0)
			rc = -errno;
		if (rc != 0)
			unlink(tmp);
	}
	free(path);
	free(tmp);
	return rc;
}

/* ---- reading ---- */

static int wrong(struct diag *d, const char *where, const char *key, const char *want)
{
	return diag_set(d, KILN_ERR_FORMAT, 0, "summary.json: %s%s%s should be %s", where, *where ? "." : "", key,
			want);
}

/* Missing keys and nulls leave the zeroed value. */
static int get_fields(json_t *obj, void *base, const struct field *f, size_t n, const char *where, struct diag *d)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(obj, f[i].key);
		if (!v || json_is_null(v))
			continue;
		switch (f[i].type) {
		case F_STR:
			if (!json_is_string(v))
				return wrong(d, where, f[i].key, "a string");
			*AT(base, f[i].off, char *) = xstrdup(json_string_value(v));
			break;
		case F_F64:
			if (!json_is_number(v))
				return wrong(d, where, f[i].key, "a number");
			*AT(base, f[i].off, double) = json_number_value(v);
			break;
		case F_U64:
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return wrong(d, where, f[i].key, "an integer of 0 or more");
			*AT(base, f[i].off, uint64_t) = (uint64_t)json_integer_value(v);
			break;
		case F_INT:
			if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
				return wrong(d, where, f[i].key, "a small integer");
			*AT(base, f[i].off, int) = (int)json_integer_value(v);
			break;
		case F_BOOL:
			if (!json_is_boolean(v))
				return wrong(d, where, f[i].key, "true or false");
			*AT(base, f[i].off, bool) = json_is_true(v);
			break;
		}
	}
	return 0;
}

static int get_array(json_t *obj, void *base, const struct array *a, const char *where, struct diag *d)
{
	json_t *arr = json_object_get(obj, a->key);
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return wrong(d, where, a->key, "an array");
	size_t count = json_array_size(arr);
	size_t size = a->elem_size ? a->elem_size : sizeof(char *);
	char *elems = xcalloc(count ? count : 1, size);
	/* owned by the struct from here, so release frees what was read */
	*AT(base, a->ptr_off, char *) = elems;
	for (size_t i = 0; i < count; i++) {
		json_t *v = json_array_get(arr, i);
		if (a->elem_size == 0) {
			if (!json_is_string(v))
				return wrong(d, where, a->key, "an array of strings");
			((char **)(void *)elems)[i] = xstrdup(json_string_value(v));
		} else {
			if (!json_is_object(v))
				return wrong(d, where, a->key, "an array of objects");
			*AT(base, a->count_off, size_t) = i + 1;
			int rc = get_fields(v, elems + i * a->elem_size, a->fields, a->nfields, a->key, d);
			if (rc)
				return rc;
		}
		*AT(base, a->count_off, size_t) = i + 1;
	}
	return 0;
}

static int from_json(json_t *root, struct runsummary *s, struct diag *d)
{
	if (!json_is_object(root))
		return diag_set(d, KILN_ERR_FORMAT, 0, "summary.json: not a JSON object");
	json_t *ver = json_object_get(root, "version");
	if (!json_is_integer(ver))
		return diag_set(d, KILN_ERR_FORMAT, 0, "summary.json: no version (not a kiln results summary)");
	if (json_integer_value(ver) > RUNSUMMARY_VERSION || json_integer_value(ver) < 1)
		return diag_set(d, KILN_ERR_FORMAT, 0, "summary.json: version %lld, this kiln reads up to %d",
				(long long)json_integer_value(ver), RUNSUMMARY_VERSION);
	int rc = get_fields(root, s, top_fields, N(top_fields), "", d);
	for (size_t i = 0; !rc && i < N(top_arrays); i++)
		rc = get_array(root, s, &top_arrays[i], "", d);
	for (size_t i = 0; !rc && i < N(sections); i++) {
		const struct section *sec = &sections[i];
		json_t *obj = json_object_get(root, sec->key);
		if (!obj || json_is_null(obj))
			continue;
		if (!json_is_object(obj))
			return wrong(d, "", sec->key, "an object");
		*AT(s, sec->has_off, bool) = true;
		void *base = (char *)s + sec->base_off;
		rc = get_fields(obj, base, sec->fields, sec->nfields, sec->key, d);
		for (size_t j = 0; !rc && j < sec->narrays; j++)
			rc = get_array(obj, base, &sec->arrays[j], sec->key, d);
	}
	return rc;
}

int runsummary_parse(const char *text, size_t len, struct runsummary *s, struct diag *d)
{
	memset(s, 0, sizeof(*s));
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return diag_set(d, KILN_ERR_FORMAT, (unsigned long)(je.line > 0 ? je.line : 0),
				"summary.json: %s", je.text);
	int rc = from_json(root, s, d);
	json_decref(root);
	if (rc)
		runsummary_release(s);
	return rc;
}

/* fopen(path, "r"), but a FIFO without a writer reads as empty instead of
 * blocking the open */
static FILE *open_nonblocking(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

int runsummary_read(const char *path, struct runsummary *s, struct diag *d)
{
	memset(s, 0, sizeof(*s));
	size_t len = strlen(path) + sizeof("/" RUNSUMMARY_FILE);
	char *file = xmalloc(len);
	FILE *f = open_nonblocking(path);
	int rc = 0;
	char *text = NULL;
	size_t n = 0, cap = 0;
	if (f) {
		/* a directory opens for reading on Linux; its first read fails */
		int c = fgetc(f);
		if (c == EOF && ferror(f) && errno == EISDIR) {
			fclose(f);
			f = NULL;
		} else if (c != EOF) {
			ungetc(c, f);
		}
	}
	if (!f) {
		snprintf(file, len, "%s/%s", path, RUNSUMMARY_FILE);
		f = open_nonblocking(file);
	}
	if (!f) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		if (n + 4096 > cap)
			text = xgrow(text, 1, n + 4096, &cap);
		size_t got = fread(text + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
		if (n > (64u << 20)) {
			rc = diag_set(d, KILN_ERR_TOO_BIG, 0, "summary.json: larger than 64 MiB");
			break;
		}
	}
	if (!rc && ferror(f))
		rc = -EIO;
	fclose(f);
	if (!rc)
		rc = runsummary_parse(text ? text : "", n, s, d);
out:
	free(text);
	free(file);
	return rc;
}

/* ---- releasing ---- */

static void free_fields(void *base, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].type == F_STR)
			free(*AT(base, f[i].off, char *));
}

static void free_array(void *base, const struct array *a)
{
	char *elems = *AT(base, a->ptr_off, char *);
	size_t count = *AT(base, a->count_off, size_t);
	for (size_t i = 0; elems && i < count; i++) {
		if (a->elem_size == 0)
			free(((char **)(void *)elems)[i]);
		else
			free_fields(elems + i * a->elem_size, a->fields, a->nfields);
	}
	free(elems);
}

void runsummary_release(struct runsummary *s)
{
	if (!s)
		return;
	free_fields(s, top_fields, N(top_fields));
	for (size_t i = 0; i < N(top_arrays); i++)
		free_array(s, &top_arrays[i]);
	for (size_t i = 0; i < N(sections); i++) {
		void *base = (char *)s + sections[i].base_off;
		free_fields(base, sections[i].fields, sections[i].nfields);
		for (size_t j = 0; j < sections[i].narrays; j++)
			free_array(base, &sections[i].arrays[j]);
	}
	memset(s, 0, sizeof(*s));
}

void runsummary_set(char **dst, const char *value)
{
	free(*dst);
	*dst = value ? xstrdup(value) : NULL;
}
