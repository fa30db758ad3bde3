/* fuzz-perfdata: libFuzzer harness for the perf.data reader. Any input must
 * either give 0 or one of the documented negative codes with a message;
 * every pointer handed to the sink must be readable for its whole length
 * (the sink reads all of it, so ASan catches a length past the record). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "format/perfdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-perfdata: %s\n", what);
	abort();
}

static volatile uint64_t sink_sum;

static void touch(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += b[i];
	sink_sum += s;
}

static int on_attr(void *ctx, const struct perfdata_attr *a)
{
	(void)ctx;
	touch(a->ids, a->nids * sizeof(*a->ids));
	return 0;
}

static int on_sample(void *ctx, const struct perfdata_sample *s)
{
	(void)ctx;
	if (!s->attr)
		fail("sample without attr");
	if ((uintptr_t)s->callchain % 8 || (uintptr_t)s->regs % 8)
		fail("misaligned u64 array");
	for (size_t i = 0; i < s->ncallchain; i++)
		sink_sum += s->callchain[i];
	for (size_t i = 0; i < s->nregs; i++)
		sink_sum += s->regs[i];
	if (s->regs && s->nregs != (size_t)__builtin_popcountll(s->attr->sample_regs_user))
		fail("register count differs from the attr's mask");
	touch(s->stack, s->stack_len);
	return 0;
}

static int on_mmap(void *ctx, const struct perfdata_mmap *m)
{
	(void)ctx;
	sink_sum += strlen(m->path);
	touch(m->build_id, m->build_id_len);
	if (m->build_id_len > 20)
		fail("build id longer than 20 bytes");
	return 0;
}

static int on_comm(void *ctx, uint32_t pid, uint32_t tid, const char *comm, bool exec)
{
	(void)ctx;
	sink_sum += pid + tid + strlen(comm) + exec;
	return 0;
}

static int on_build_id(void *ctx, int32_t pid, const char *path, const unsigned char *id, size_t len)
{
	(void)ctx;
	(void)pid;
	sink_sum += strlen(path);
	touch(id, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfdata_sink sink = {
		.attr = on_attr,
		.sample = on_sample,
		.mmap = on_mmap,
		.comm = on_comm,
		.build_id = on_build_id,
	};
	/* a copy of exactly size bytes, so ASan sees reads past the end */
	unsigned char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct diag d = {0};
	struct perfdata_stats st;
	int err = perfdata_read_mem(copy, size, &sink, &st, &d);
	if (err > 0)
		fail("positive code without a sink asking for it");
	if (err < 0) {
		if (err != KILN_ERR_FORMAT && err != KILN_ERR_TRUNCATED && err != KILN_ERR_TOO_BIG)
			fail("undocumented error code");
		if (!d.msg[0] || !memchr(d.msg, '\0', sizeof(d.msg)))
			fail("error without a message");
	}
	free(copy);
	return 0;
}
