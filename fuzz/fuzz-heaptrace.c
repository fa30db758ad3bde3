/* fuzz-heaptrace: libFuzzer harness for the heap trace reader and the
 * analysis. An input starting with byte 0xfe is taken as the records of
 * one chunk, wrapped here into a valid trace (header, raw deflate, crc),
 * so the record decoder is reached past the checksum; any other input is a
 * trace file. Either way it must fail with a negative code (and a message
 * for format errors) or be analysed; frees give their blocks' sizes, so a
 * made-up trace may free more than it allocated: totals are not checked. */
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/heapstats.h"
#include "format/heaptrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A trace of one chunk holding raw as its records; free() it. */
static uint8_t *wrap(const uint8_t *raw, size_t len, size_t *out_len)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
	size_t cap = libdeflate_deflate_compress_bound(c, len);
	struct heaptrace_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, HEAPTRACE_MAGIC, 8);
	h.version = HEAPTRACE_VERSION;
	h.header_size = sizeof(h);
	uint8_t *t = malloc(sizeof(h) + sizeof(struct heaptrace_chunk) + cap);
	memcpy(t, &h, sizeof(h));
	size_t z = libdeflate_deflate_compress(c, raw, len, t + sizeof(h) + sizeof(struct heaptrace_chunk), cap);
	struct heaptrace_chunk ch = {HEAPTRACE_CHUNK_MAGIC, (uint32_t)z, (uint32_t)len,
				     libdeflate_crc32(0, raw, len)};
	memcpy(t + sizeof(h), &ch, sizeof(ch));
	libdeflate_free_compressor(c);
	*out_len = sizeof(h) + sizeof(ch) + z;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct heapstats h;
	struct diag d = {0};
	uint8_t *wrapped = NULL;
	if (size >= 1 && data[0] == 0xfe && size < (1u << 20)) {
		wrapped = wrap(data + 1, size - 1, &size);
		data = wrapped;
	}
	int rc = heapstats_analyze_mem(&h, data, size, &d);
	if (rc > 0 || (rc == KILN_ERR_FORMAT && !d.msg[0])) {
		fprintf(stderr, "fuzz-heaptrace: bad return %d\n", rc);
		abort();
	}
	if (rc == 0) {
		size_t n;
		free(heapstats_sorted(&h, HEAPSTATS_BY_PEAK, &n));
		free(heapstats_findings(&h, &n));
	}
	heapstats_release(&h);
	free(wrapped);
	return 0;
}
