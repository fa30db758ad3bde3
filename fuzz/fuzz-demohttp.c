/* fuzz-demohttp: libFuzzer harness for demo-server's HTTP request parser
 * (examples/demo-http.c, compiled in here: it is no part of the library).
 * The input is cut into request heads as the server cuts its buffer (up to
 * each blank line, within HTTP_MAX_REQUEST bytes); each is parsed and
 * routed to a stub route. Invariant: no input crashes, reads out of bounds
 * or leaks; every answer is the route's 200 or a 400 that closes. */
#include "../examples/demo-http.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int routed;

void http_route(const char *method, char *target, struct http_response *r)
{
	char *query = strchr(target, '?');
	if (query)
		*query++ = 0;
	if (!method[0] || target[0] != '/' || r->status || r->len)
		abort();
	routed++;
	http_set_body(r, 200, target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *end;
	if (size > HTTP_MAX_REQUEST)
		size = HTTP_MAX_REQUEST;
	while ((end = memmem(buf, size, "\r\n\r\n", 4))) {
		size_t used = (size_t)(end + 4 - buf);
		struct http_response r;
		int before = routed;
		handle_request(buf, used - 2, &r);
		int good = routed == before + 1 && r.status == 200;
		if ((!good && (r.status != 400 || !r.close || routed != before)) || r.len > sizeof(r.body))
			abort();
		buf += used, size -= used;
	}
	return 0;
}
