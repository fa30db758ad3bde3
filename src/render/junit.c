/* junit: the JUnit XML writer.
 * Invariant: every string reaches the output through add_text(), the one
 * escaper, so no caller's bytes can break the document. */
#include "render/junit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/strbuf.h"
#include "base/utf8.h"

/* Appends s escaped for text and attribute values alike. */
static void add_text(struct strbuf *sb, const char *str)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);
		if (!len) {
			strbuf_adds(sb, replacement);
			i++;
			continue;
		}
		switch (cp) {
		case '&': strbuf_adds(sb, "&amp;"); break;
		case '<': strbuf_adds(sb, "&lt;"); break;
		case '>': strbuf_adds(sb, "&gt;"); break;
		case '"': strbuf_adds(sb, "&quot;"); break;
		case '\'': strbuf_adds(sb, "&apos;"); break;
		/* references, so attribute values keep their line breaks */
		case '\t': strbuf_adds(sb, "&#9;"); break;
		case '\n': strbuf_adds(sb, "&#10;"); break;
		case '\r': strbuf_adds(sb, "&#13;"); break;
		default:
			if (cp < 0x20 || cp == 0xfffe || cp == 0xffff)
				strbuf_adds(sb, replacement);
			else
				strbuf_add(sb, s + i, len);
		}
		i += len;
	}
}

static void count(const struct junit_suite *s, size_t *failures, size_t *errors, size_t *skipped)
{
	for (size_t i = 0; i < s->ncases; i++) {
		*failures += s->cases[i].status == JUNIT_FAIL;
		*errors += s->cases[i].status == JUNIT_ERROR;
		*skipped += s->cases[i].status == JUNIT_SKIP;
	}
}

static void add_case(struct strbuf *sb, const struct junit_case *c)
{
	static const char *const tags[] = {[JUNIT_FAIL] = "failure", [JUNIT_SKIP] = "skipped", [JUNIT_ERROR] = "error"};
	strbuf_adds(sb, "    <testcase name=\"");
	add_text(sb, c->name);
	strbuf_adds(sb, "\" classname=\"");
	add_text(sb, c->classname);
	strbuf_adds(sb, "\" time=\"0\"");
	if (c->status == JUNIT_PASS && !c->output) {
		strbuf_adds(sb, "/>\n");
		return;
	}
	strbuf_adds(sb, ">\n");
	if (c->status != JUNIT_PASS) {
		strbuf_addf(sb, "      <%s", tags[c->status]);
		if (c->message) {
			strbuf_adds(sb, " message=\"");
			add_text(sb, c->message);
			strbuf_adds(sb, "\"");
		}
		if (c->status == JUNIT_SKIP || !c->message) {
			strbuf_adds(sb, "/>\n");
		} else {
			strbuf_adds(sb, ">");
			add_text(sb, c->message);
			strbuf_addf(sb, "</%s>\n", tags[c->status]);
		}
	}
	if (c->output) {
		strbuf_adds(sb, "      <system-out>");
		add_text(sb, c->output);
		strbuf_adds(sb, "</system-out>\n");
	}
	strbuf_adds(sb, "    </testcase>\n");
}

int junit_write(FILE *out, const char *name, const struct junit_suite *suites, size_t nsuites)
{
	struct strbuf sb = STRBUF_INIT, body = STRBUF_INIT;
	size_t tests = 0, failures = 0, errors = 0, skipped = 0;
	for (size_t i = 0; i < nsuites; i++) {
		const struct junit_suite *s = &suites[i];
		size_t f = 0, e = 0, k = 0;
		count(s, &f, &e, &k);
		tests += s->ncases;
		failures += f;
		errors += e;
		skipped += k;
		strbuf_adds(&body, "  <testsuite name=\"");
		add_text(&body, s->name);
		strbuf_addf(&body, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
			    s->ncases, f, e, k, s->time_s);
		if (s->timestamp) {
			strbuf_adds(&body, " timestamp=\"");
			add_text(&body, s->timestamp);
			strbuf_adds(&body, "\"");
		}
		strbuf_adds(&body, ">\n");
		for (size_t j = 0; j < s->ncases; j++)
			add_case(&body, &s->cases[j]);
		strbuf_adds(&body, "  </testsuite>\n");
	}
	strbuf_adds(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
	add_text(&sb, name);
	strbuf_addf(&sb, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\">\n", tests, failures,
		    errors, skipped);
	strbuf_add(&sb, body.buf ? body.buf : "", body.len);
	strbuf_adds(&sb, "</testsuites>\n");
	size_t wrote = fwrite(sb.buf, 1, sb.len, out);
	int rc = wrote == sb.len && !ferror(out) ? 0 : (errno ? -errno : -EIO);
	strbuf_release(&sb);
	strbuf_release(&body);
	return rc;
}
