/* error: kiln_strerror() for negative errno values and kiln's own codes. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kiln_strerror(int code)
{
	switch (code) {
	case 0: return "success";
	case KILN_ERR_FORMAT: return "malformed input";
	case KILN_ERR_BINARY: return "binary data where text was expected";
	case KILN_ERR_UNKNOWN_FORMAT: return "unrecognised input format";
	case KILN_ERR_TRUNCATED: return "input is truncated";
	case KILN_ERR_EMPTY: return "no data";
	case KILN_ERR_TOO_BIG: return "input exceeds a size limit";
	default: break;
	}
	if (code < 0 && code > -KILN_ERR_BASE)
		return strerror(-code);
	return "unknown error";
}

int diag_set(struct diag *d, int code, unsigned long line, const char *fmt, ...)
{
	if (d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
		d->line = line;
	}
	return code;
}
