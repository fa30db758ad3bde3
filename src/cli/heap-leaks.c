/* heap-leaks: the leak part of kiln heap's report (see heap-leaks.h).
 * Invariant: a (stack, kind) suppressed by a rule is printed nowhere but in
 * the "suppressed" totals; every other one with blocks of a shown kind is
 * printed once with --leak-check=full. */
#include "cli/heap-leaks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/linereader.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "render/humanize.h"

static const char *const kind_words[4] = {"still reachable", "possibly lost", "indirectly lost",
					  "definitely lost"};

/* ---- loading --------------------------------------------------------------- */

static int read_whole(const char *path, struct strbuf *sb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[65536];
	long n;
	while ((n = read_full(fd, buf, sizeof(buf))) > 0) {
		strbuf_add(sb, buf, (size_t)n);
		if ((size_t)n < sizeof(buf))
			break;
	}
	close(fd);
	return n < 0 ? (int)n : 0;
}

int heapleak_load(const struct heapleak_opts *o, struct suppress **out)
{
	struct suppress *s = suppress_new();
	struct diag d;
	*out = NULL;
	if (!o->no_default) {
		memset(&d, 0, sizeof(d));
		if (suppress_parse(s, "default.supp", suppress_default, strlen(suppress_default), NULL, &d)) {
			suppress_free(s);
			return cli_error("kiln's default suppressions, line %lu: %s", d.line, d.msg);
		}
	}
	for (size_t i = 0; i < o->nfiles; i++) {
		struct strbuf text = STRBUF_INIT;
		int err = read_whole(o->files[i], &text);
		if (err) {
			strbuf_release(&text);
			suppress_free(s);
			return cli_error("cannot read suppressions '%s': %s", o->files[i], strerror(-err));
		}
		memset(&d, 0, sizeof(d));
		err = suppress_parse(s, o->files[i], text.buf ? text.buf : "", text.len, NULL, &d);
		strbuf_release(&text);
		if (err) {
			suppress_free(s);
			return cli_error("%s:%lu: bad suppression: %s", o->files[i], d.line, d.msg);
		}
	}
	*out = s;
	return EXIT_OK;
}

/* ---- the report ---------------------------------------------------------- */

static void print_record(FILE *f, const struct heapleak_opts *o, struct heapsym *hs, struct heapsym **raw,
			 const struct heapstats *h, const struct heapleaks *l, const struct heapsite *s, int k)
{
	char b1[32], b2[32];
	uint64_t c = heapleaks_site_count(l, h, s, k), b = heapleaks_site_bytes(l, h, s, k);
	fprintf(f, "%s bytes in %s blocks are %s\n", humanize_count(b, b1, sizeof(b1)), humanize_count(c, b2, sizeof(b2)),
		l->classified ? kind_words[k] : "not freed at exit");
	struct heapframe fr[64];
	size_t nf = hs ? heapsym_stack(hs, h, s->stack_id, fr, 64) : 0;
	for (size_t x = 0; x < nf; x++) {
		fprintf(f, "   %s %s", x ? "by" : "at", fr[x].name);
		if (fr[x].file)
			fprintf(f, " (%s:%d)", fr[x].file, fr[x].line);
		fputc('\n', f);
	}
	fputc('\n', f);
	if (o->gen_supp) {
		struct suppress_frame sf[64];
		size_t n = heapleaks_frames(hs, raw, h, s->stack_id, sf, 64);
		struct strbuf sb = STRBUF_INIT;
		suppress_write_memcheck(&sb, NULL, l->classified ? k : HT_LEAK_DEFINITELY, sf, n, 24);
		fputs(strbuf_str(&sb), f);
		strbuf_release(&sb);
	}
}

void heapleak_print(FILE *f, const struct heapleak_opts *o, struct heapsym *hs, struct heapsym **raw,
		    const struct heapstats *h, const struct heapleaks *l)
{
	char b1[32], b2[32];
	if (o->full) {
		size_t n;
		size_t *idx = heapstats_sorted(h, HEAPSTATS_BY_LEAKED, &n);
		/* the lost kinds by bytes, worst kind first; then reachable */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t j = 0; j < (pass ? h->nsites : n); j++) {
				const struct heapsite *s = &h->sites[pass ? j : idx[j]];
				for (int k = 3; k >= 0; k--) {
					if ((pass == 0) != (k != HT_LEAK_REACHABLE) || !(o->kinds & (1u << k)))
						continue;
					if ((l->site_supp[s - h->sites] & (1u << k)) || !heapleaks_site_count(l, h, s, k))
						continue;
					print_record(f, o, hs, raw, h, l, s, k);
				}
			}
		}
		free(idx);
	}
	fputs("LEAK SUMMARY:\n", f);
	if (l->classified) {
		static const int order[4] = {HT_LEAK_DEFINITELY, HT_LEAK_INDIRECTLY, HT_LEAK_POSSIBLY,
					     HT_LEAK_REACHABLE};
		for (int i = 0; i < 4; i++) {
			int k = order[i];
			fprintf(f, "   %*s: %s bytes in %s blocks\n", 15, kind_words[k], humanize_count(l->bytes[k], b1, sizeof(b1)),
				humanize_count(l->count[k], b2, sizeof(b2)));
		}
	} else {
		fprintf(f, "   not freed at exit: %s bytes in %s blocks\n", humanize_count(l->bytes[3], b1, sizeof(b1)),
			humanize_count(l->count[3], b2, sizeof(b2)));
		fputs("   (the trace has no leak scan, so these are not split into memcheck's kinds)\n", f);
	}
	fprintf(f, "        suppressed: %s bytes in %s blocks\n", humanize_count(l->supp_bytes, b1, sizeof(b1)), humanize_count(l->supp_count, b2, sizeof(b2)));
}

void heapleak_json(struct strbuf *sb, const struct suppress *s, const struct heapstats *h,
		   const struct heapleaks *l)
{
	strbuf_addf(sb,
		    "\"leaks\":{\"scanned\":%s,\"definitely_lost\":[%llu,%llu],\"indirectly_lost\":[%llu,%llu],"
		    "\"possibly_lost\":[%llu,%llu],\"still_reachable\":[%llu,%llu],\"suppressed\":[%llu,%llu],"
		    "\"used_suppressions\":[",
		    h->have_leaks ? "true" : "false", (unsigned long long)l->bytes[3], (unsigned long long)l->count[3],
		    (unsigned long long)l->bytes[2], (unsigned long long)l->count[2], (unsigned long long)l->bytes[1],
		    (unsigned long long)l->count[1], (unsigned long long)l->bytes[0], (unsigned long long)l->count[0],
		    (unsigned long long)l->supp_bytes, (unsigned long long)l->supp_count);
	bool first = true;
	for (size_t i = 0; i < suppress_count(s); i++) {
		if (!l->use[i].count)
			continue;
		struct suppress_info si;
		suppress_get(s, i, &si);
		strbuf_adds(sb, first ? "{\"name\":\"" : ",{\"name\":\"");
		strbuf_add_json(sb, si.name, strlen(si.name));
		strbuf_adds(sb, "\",\"file\":\"");
		strbuf_add_json(sb, si.source, strlen(si.source));
		strbuf_addf(sb, "\",\"line\":%lu,\"bytes\":%llu,\"blocks\":%llu}", si.line,
			    (unsigned long long)l->use[i].bytes, (unsigned long long)l->use[i].count);
		first = false;
	}
	strbuf_adds(sb, "]}");
}
