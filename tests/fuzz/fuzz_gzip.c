/* fuzz_gzip.c: libFuzzer target for streaming gzip decoding (ingest/gunzip.c): concatenated
 * members, padding, truncation, and the output limit that guards against decompression
 * bombs. The input is fed in chunks whose size comes from the first byte. Oracles: the
 * output never exceeds the limit, and chunking changes neither the outcome nor the bytes.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_gzip tests/fuzz/corpus/gzip */
#include "tests/fuzz/fuzz_util.h"

#include "ingest/gunzip.h"

#define LIMIT_BYTES (1 << 20)

typedef struct {
    uint64_t hash; /* FNV-1a of the output */
    int64_t n;
} sink;

static int out(void *ctx, const char *p, size_t n, char **err) {
    (void)err;
    sink *s = ctx;
    for (size_t i = 0; i < n; i++) s->hash = (s->hash ^ (uint8_t)p[i]) * 1099511628211ull;
    s->n += (int64_t)n;
    FUZZ_CHECK(s->n <= LIMIT_BYTES);
    return 0;
}

static int run(const uint8_t *data, size_t size, size_t chunk, sink *s) {
    s->hash = 1469598103934665603ull;
    s->n = 0;
    char *err = NULL;
    silt_gunzip *g = silt_gunzip_new(out, s, LIMIT_BYTES, &err);
    FUZZ_CHECK(g);
    int rc = 0;
    for (size_t at = 0; at < size && !rc;) {
        size_t take = size - at < chunk ? size - at : chunk;
        rc = silt_gunzip_feed(g, (const char *)data + at, take, &err);
        at += take;
    }
    if (!rc) rc = silt_gunzip_finish(g, &err);
    if (rc) FUZZ_CHECK(err != NULL);
    if (!rc) FUZZ_CHECK(silt_gunzip_out_bytes(g) == s->n);
    free(err);
    silt_gunzip_free(g);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    (void)silt_gunzip_magic(data + 1, size - 1);
    sink a, b;
    int ra = run(data + 1, size - 1, size, &a);
    int rb = run(data + 1, size - 1, 1 + data[0] % 64, &b);
    FUZZ_CHECK(ra == rb);
    if (ra == 0) FUZZ_CHECK(a.n == b.n && a.hash == b.hash);
    return 0;
}
