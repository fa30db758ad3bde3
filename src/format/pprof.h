/* pprof: reads and writes the pprof format (profile.proto, usually
 * gzipped), the format of go tool pprof, Go's runtime/pprof and many
 * profilers, to and from struct profile.
 * Invariant: a reader either returns 0 with a complete, id-checked profile
 * or an error with *out untouched; no input, however malformed, crashes it
 * or makes it allocate more than the size cap. */
#ifndef KILN_FORMAT_PPROF_H
#define KILN_FORMAT_PPROF_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "model/profile.h"

/* The default cap on a profile's decoded (decompressed) protobuf size. */
#define PPROF_MAX_SIZE ((size_t)2 << 30)

/* gzip_level values for the writers besides 1..9. */
enum {
	PPROF_RAW = 0,           /* plain protobuf, no gzip */
	PPROF_GZIP_DEFAULT = -1, /* gzip at zlib's default level */
};

/* Returns 1 when data (the first len bytes of an input, len may be short)
 * starts with the gzip magic or looks like a raw Profile protobuf: the
 * leading fields have valid tags with the wire types profile.proto gives
 * them. Returns 0 otherwise. A gzip match does not prove pprof content. */
int pprof_sniff(const void *data, size_t len);

/* Parses a gzipped or raw pprof profile from data[0..len) into *out, which
 * the caller then owns (profile_release()). out need not be initialised;
 * it is written only on success. d (may be NULL) gets a message on error.
 * Returns 0, or:
 *   KILN_ERR_EMPTY      len is 0 or the gzip stream decodes to nothing;
 *   KILN_ERR_TRUNCATED  the gzip stream ends early;
 *   KILN_ERR_FORMAT     corrupt gzip, not a valid protobuf message, or a
 *                       message that breaks pprof's rules (string index out
 *                       of range, id 0, duplicate or missing id, value count
 *                       unequal to the sample type count);
 *   KILN_ERR_TOO_BIG    the decoded message exceeds PPROF_MAX_SIZE. */
int pprof_read(const void *data, size_t len, struct profile *out, struct diag *d);
/* pprof_read() with a caller-chosen cap instead of PPROF_MAX_SIZE. */
int pprof_read_capped(const void *data, size_t len, size_t max_size, struct profile *out,
		      struct diag *d);
/* Reads fd to its end and parses it as pprof_read() does. prefix (may be
 * NULL) holds bytes already read from fd (a content sniff) that come
 * first. Does not close fd. Returns pprof_read()'s codes, -errno when a
 * read fails, or KILN_ERR_TOO_BIG for input over PPROF_MAX_SIZE. */
int pprof_read_fd(int fd, const void *prefix, size_t prefix_len, struct profile *out,
		  struct diag *d);

/* Receives encoded bytes; a non-zero return stops the writer and is
 * returned by it. */
typedef int (*pprof_write_fn)(void *ctx, const void *data, size_t len);

/* Encodes p as a Profile message and passes it to fn in pieces: gzipped
 * when gzip_level is 1..9 or PPROF_GZIP_DEFAULT, raw for PPROF_RAW.
 * Returns 0, -EINVAL for another level, or what fn returned. */
int pprof_write_cb(const struct profile *p, int gzip_level, pprof_write_fn fn, void *ctx);
/* pprof_write_cb() into a stdio stream. Does not flush; returns 0 or
 * -errno (-EIO when the stream reports an error without errno). */
int pprof_write(const struct profile *p, FILE *out, int gzip_level);
/* pprof_write_cb() into a new malloc'd buffer: on success *data (free() it)
 * and *len are set. */
int pprof_encode(const struct profile *p, int gzip_level, void **data, size_t *len);

#endif
