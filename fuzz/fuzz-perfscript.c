/* fuzz-perfscript: libFuzzer harness for the perf script parser.
 * Each input is collapsed in one dialect as a whole buffer, sometimes also
 * through the fd + prefix path, and once more cut in two at a blank line as
 * the chunker may cut it; the results must agree. Dialect and options
 * (--pid, --kernel, ..., threads) come from a hash of the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "format/perfscript-parse.h"
#include "format/perfscript.h"
#include "model/foldtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_warning(void *ctx, const struct perfscript_warning *w)
{
	(void)ctx;
	if (!w->kind || !w->text || w->line == 0) {
		fprintf(stderr, "fuzz-perfscript: malformed warning\n");
		abort();
	}
	(void)strlen(w->text); /* must be NUL-terminated: ASan checks */
}

static void check_progress(void *ctx, unsigned long long bytes)
{
	(void)ctx;
	(void)bytes;
}

static const struct perfscript_io io = {check_warning, check_progress, NULL};

static void same_tables(const char *what, const struct foldtab *a, const struct foldtab *b)
{
	if (a->count != b->count || a->total != b->total) {
		fprintf(stderr, "fuzz-perfscript: %s: %zu stacks / %llu total vs %zu / %llu\n", what,
			a->count, (unsigned long long)a->total, b->count, (unsigned long long)b->total);
		abort();
	}
	const struct fold_entry **ea = foldtab_sorted(a), **eb = foldtab_sorted(b);
	for (size_t i = 0; i < a->count; i++) {
		if (ea[i]->len != eb[i]->len || ea[i]->count != eb[i]->count ||
		    memcmp(ea[i]->key, eb[i]->key, ea[i]->len) != 0) {
			fprintf(stderr, "fuzz-perfscript: %s: entry %zu differs: '%s' %llu vs '%s' %llu\n",
				what, i, ea[i]->key, (unsigned long long)ea[i]->count, eb[i]->key,
				(unsigned long long)eb[i]->count);
			abort();
		}
	}
	free(ea);
	free(eb);
}

/* A place where the chunker may cut: just after a blank line. */
static size_t pick_cut(const char *s, size_t len, enum perfscript_dialect d, uint64_t h)
{
	size_t cuts = 0, want, i;
	for (int pass = 0; pass < 2; pass++) {
		size_t seen = 0;
		want = cuts ? (size_t)(h % cuts) : 0;
		for (i = 1; i < len; i++) {
			if (s[i] != '\n')
				continue;
			bool cut = s[i - 1] == '\n' ||
				   (d == PERFSCRIPT_INFERNO && s[i - 1] == '\r' && i >= 2 && s[i - 2] == '\n');
			if (!cut)
				continue;
			if (pass == 1 && seen == want)
				return i + 1;
			seen++;
		}
		cuts = seen;
		if (!cuts)
			return 0;
	}
	return 0;
}

static void run_dialect(const char *s, size_t len, enum perfscript_dialect d, uint64_t h)
{
	static const char *const skip[] = {"main", "run_round"};
	struct perfscript_options o = {
		.dialect = d,
		.include_pid = h & 1,
		.include_tid = (h >> 1) & 1,
		.annotate_kernel = (h >> 2) & 1,
		.annotate_jit = (h >> 3) & 1,
		.include_addrs = (h >> 4) & 1,
		.event_filter = ((h >> 5) & 7) == 0 ? "cycles" : NULL,
		.skip_after = ((h >> 8) & 3) == 0 ? skip : NULL,
		.nskip_after = ((h >> 8) & 3) == 0 ? 2 : 0,
		.nthreads = ((h >> 10) & 7) == 0 ? 2 : 1,
	};

	/* 1. the whole buffer */
	struct foldtab whole;
	struct perfscript_stats st;
	foldtab_init(&whole);
	int rc = perfscript_collapse_buffer(s, len, &o, &io, &whole, &st);
	if (rc != 0 && !memchr(s, '\0', len)) {
		fprintf(stderr, "fuzz-perfscript: buffer collapse failed (%d) on text\n", rc);
		abort();
	}
	if (rc != 0) {
		foldtab_release(&whole);
		return;
	}

	/* 2. through a file descriptor, with part of the input as a prefix */
	if (((h >> 13) & 7) == 0) {
		int fd = memfd_create("fuzz-perfscript", MFD_CLOEXEC);
		if (fd >= 0) {
			size_t pre = len ? (size_t)((h >> 16) % (len + 1)) : 0;
			if (write(fd, s + pre, len - pre) == (ssize_t)(len - pre) &&
			    lseek(fd, 0, SEEK_SET) == 0) {
				struct foldtab viafd;
				foldtab_init(&viafd);
				if (perfscript_collapse(fd, s, pre, &o, &io, &viafd, NULL) != 0) {
					fprintf(stderr, "fuzz-perfscript: fd collapse failed\n");
					abort();
				}
				same_tables("fd+prefix vs buffer", &whole, &viafd);
				foldtab_release(&viafd);
			}
			close(fd);
		}
	}

	/* 3. cut in two at a blank line, as the chunker would */
	size_t cut = pick_cut(s, len, d, h >> 20);
	if (cut && cut < len && !o.event_filter) {
		struct perfscript_options o1 = o;
		o1.nthreads = 1;
		struct foldtab split;
		struct ps_parser p;
		foldtab_init(&split);
		ps_parser_init(&p, &o1, &split);
		ps_parser_chunk(&p, s, cut);
		ps_parser_finish(&p); /* what the runner does after a chunk */
		p.lineno = 0;
		ps_parser_chunk(&p, s + cut, len - cut);
		ps_parser_finish(&p);
		if (p.events != st.events) {
			fprintf(stderr, "fuzz-perfscript: cut at %zu: %lu events vs %lu\n", cut,
				p.events, st.events);
			abort();
		}
		same_tables("cut in two vs whole", &whole, &split);
		ps_parser_release(&p);
		foldtab_release(&split);
	}

	(void)perfscript_sniff(s, len);
	foldtab_release(&whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* FNV-1a of the input picks the options, so mutations explore them. */
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < size; i++) {
		h ^= data[i];
		h *= 1099511628211ull;
	}
	h ^= h >> 31;
	/* One dialect per input: each collapse allocates a 4 MiB chunk buffer,
	 * which is costly under ASan, so fewer calls mean more inputs a second. */
	enum perfscript_dialect d = (h >> 62) & 1 ? PERFSCRIPT_PERL : PERFSCRIPT_INFERNO;
	run_dialect((const char *)data, size, d, h);
	return 0;
}
