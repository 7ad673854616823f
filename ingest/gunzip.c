/* gunzip.c: streaming gzip decoding with zlib's inflate (see gunzip.h). */
#include "ingest/gunzip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/err.h"

#define GUNZIP_OUT_BYTES (256 * 1024)

struct silt_gunzip {
    z_stream z;             /* inflate state (gzip wrapper only) */
    int in_member;          /* inside a gzip member (its end not seen yet) */
    int after_end;          /* at least one member ended: only padding or a member may follow */
    silt_gunzip_out out;    /* receiver of decompressed bytes */
    void *ctx;              /* its context */
    int64_t max_out_bytes;  /* limit on output, 0 = none */
    int64_t n_out;          /* output so far */
    unsigned char *buf;     /* output buffer of GUNZIP_OUT_BYTES */
};

int silt_gunzip_magic(const void *p, size_t n) {
    const unsigned char *b = p;
    return n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

silt_gunzip *silt_gunzip_new(silt_gunzip_out out, void *ctx, int64_t max_out_bytes, char **err) {
    silt_gunzip *g = calloc(1, sizeof *g);
    if (g) g->buf = malloc(GUNZIP_OUT_BYTES);
    /* 16 + MAX_WBITS: gzip wrapper only, so a zlib or raw stream is rejected. */
    if (!g || !g->buf || inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        if (g) free(g->buf);
        free(g);
        silt_err(err, "out of memory (gzip decoder)");
        return NULL;
    }
    g->in_member = 1;
    g->out = out;
    g->ctx = ctx;
    g->max_out_bytes = max_out_bytes;
    return g;
}

static int emit(silt_gunzip *g, size_t n, char **err) {
    if (!n) return 0;
    g->n_out += (int64_t)n;
    if (g->max_out_bytes > 0 && g->n_out > g->max_out_bytes)
        return silt_err(err, "decompressed data larger than max_bytes (%lld bytes)",
                        (long long)g->max_out_bytes);
    return g->out(g->ctx, (const char *)g->buf, n, err);
}

int silt_gunzip_feed(silt_gunzip *g, const char *p, size_t n, char **err) {
    const unsigned char *in = (const unsigned char *)p;
    while (n) {
        if (!g->in_member) {
            /* Between members: zero padding is skipped, a new member restarts inflate. */
            if (*in == 0) {
                in++, n--;
                continue;
            }
            if (*in != 0x1f) return silt_err(err, "unexpected data after the end of the gzip stream");
            if (inflateReset(&g->z) != Z_OK) return silt_err(err, "gzip decoder reset failed");
            g->in_member = 1;
        }
        g->z.next_in = (unsigned char *)in;
        g->z.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
        uInt given = g->z.avail_in;
        int rc;
        do {
            g->z.next_out = g->buf;
            g->z.avail_out = GUNZIP_OUT_BYTES;
            rc = inflate(&g->z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                return silt_err(err, "corrupt gzip data: %s", g->z.msg ? g->z.msg : "inflate failed");
            if (emit(g, GUNZIP_OUT_BYTES - g->z.avail_out, err)) return -1;
        } while (rc == Z_OK && g->z.avail_out == 0);
        size_t used = given - g->z.avail_in;
        in += used, n -= used;
        if (rc == Z_STREAM_END) {
            g->in_member = 0;
            g->after_end = 1;
        } else if (used == 0 && g->z.avail_out != 0) {
            break; /* needs more input */
        }
    }
    return 0;
}

int silt_gunzip_finish(silt_gunzip *g, char **err) {
    if (g->in_member) return silt_err(err, "truncated gzip data (the stream ends inside a member)");
    return 0;
}

int64_t silt_gunzip_out_bytes(const silt_gunzip *g) { return g->n_out; }

void silt_gunzip_free(silt_gunzip *g) {
    if (!g) return;
    inflateEnd(&g->z);
    free(g->buf);
    free(g);
}
