/* fuzz-htmlreport: libFuzzer harness for kiln's HTML pages: any input is
 * measured as an SVG (htmlpage_svg_size) and, when it parses as
 * summary.json, drawn as index.html and as diff.html (the run against
 * itself) from a folder that does not exist.
 * Invariant: no input may crash, leak or hang, and no data may open an
 * element: the pages hold no <script> or <iframe> (no file was readable)
 * and end with </html>. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/runsummary.h"
#include "render/diffhtml.h"
#include "render/htmlpage.h"
#include "render/htmlreport.h"
#include "render/runcompare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_page(const char *page, size_t len, const char *what)
{
	static const char end[] = "</html>\n";
	if (strstr(page, "<script") || strstr(page, "<iframe") || len < sizeof(end) - 1 ||
	    memcmp(page + len - (sizeof(end) - 1), end, sizeof(end) - 1)) {
		fprintf(stderr, "fuzz-htmlreport: %s lets data through unescaped\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	double w, h;
	if (htmlpage_svg_size((const char *)data, size, &w, &h) == 0 && !(w > 0 && h > 0))
		abort();

	struct runsummary s;
	struct diag d = {0};
	if (runsummary_parse((const char *)data, size, &s, &d))
		return 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f || htmlreport_write(&s, "/nonexistent-kiln-fuzz", f, &d))
		abort();
	fclose(f);
	check_page(buf, len, "index.html");
	free(buf);

	struct folddiff_row *rows = NULL;
	size_t n = runcompare_shares(&s, &s, &rows);
	struct diffhtml in = {.label_a = "a", .label_b = "b", .a = &s, .b = &s, .shares = rows, .nshares = n};
	struct strbuf page = STRBUF_INIT;
	diffhtml_build(&in, &page);
	check_page(page.buf, page.len, "diff.html");
	strbuf_release(&page);
	free(rows);
	runsummary_release(&s);
	return 0;
}
