/* gunzip.h: streaming gzip decompression (zlib) between the download and the reader, for
 * .gz files (as opposed to Content-Encoding, which libcurl removes). Concatenated gzip
 * members are one stream, as with gzip -d; zero padding after the last member is ignored.
 * Input that ends inside a member is an error ("truncated"). */
#ifndef SILT_INGEST_GUNZIP_H
#define SILT_INGEST_GUNZIP_H

#include <stddef.h>
#include <stdint.h>

/* Receives decompressed bytes: 0, or -1 with *err set. */
typedef int (*silt_gunzip_out)(void *ctx, const char *p, size_t n_bytes, char **err);

typedef struct silt_gunzip silt_gunzip;

/* 1 when the first bytes are the gzip magic number (needs at least 2 bytes). */
int silt_gunzip_magic(const void *p, size_t n_bytes);

/* A decoder that passes output to out(ctx, ...); more than max_out_bytes of output is an
 * error (0 = no limit: a guard against decompression bombs). NULL with *err when out of
 * memory. */
silt_gunzip *silt_gunzip_new(silt_gunzip_out out, void *ctx, int64_t max_out_bytes, char **err);
int silt_gunzip_feed(silt_gunzip *g, const char *p, size_t n_bytes, char **err);
/* End of input: fails when it ends inside a member. */
int silt_gunzip_finish(silt_gunzip *g, char **err);
int64_t silt_gunzip_out_bytes(const silt_gunzip *g);
void silt_gunzip_free(silt_gunzip *g);

#endif
