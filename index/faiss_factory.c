/* faiss_factory.c: the allowlist of FAISS index_factory descriptions (see faiss_factory.h).
 * Messages name the part at fault; the caller prefixes the whole description. */
#include "index/faiss_factory.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define MAX_HNSW_M 512
#define MAX_NLIST 262144
#define MAX_PQ_BITS 16
#define MAX_OUT_DIM 65536

static const char EXPECTED[] =
    "expected [PCA<d>|PCAR<d>|PCAW<d>|PCAWR<d>|OPQ<m>[_<d>]|L2norm,]... followed by Flat, LSH, "
    "SQ4|SQ6|SQ8|SQfp16, PQ<m>[x<bits>][fs], HNSW<M>[,Flat|,PQ<m>|,SQ8] or "
    "IVF<nlist>[_HNSW<M>],<Flat|PQ<m>[x<bits>]|SQ8>";

/* If *p starts with prefix: reads the decimal number after it (no sign, no leading zero),
 * checks it is in [lo, hi], stores it in *out (when out is given), advances *p past it and
 * returns 0 (-1 with *err when the number is missing or out of range). Returns 1 when *p
 * does not start with prefix. */
static int bounded(const char **p, const char *prefix, const char *what, long lo, long hi,
                   long *out, char **err) {
    size_t n = strlen(prefix);
    if (strncmp(*p, prefix, n) != 0) return 1;
    const char *s = *p + n;
    size_t digits = strspn(s, "0123456789");
    long v = -1;
    if (digits > 0 && digits <= 9 && s[0] != '0') v = strtol(s, NULL, 10);
    if (v < lo || v > hi)
        return silt_err(err, "%s must be an integer between %ld and %ld, got '%.*s'", what, lo,
                        hi, (int)(digits > 20 ? 20 : digits), s);
    *p = s + digits;
    if (out) *out = v;
    return 0;
}

/* 1 when comp[0..len) is exactly word. */
static int is(const char *comp, size_t len, const char *word) {
    return strlen(word) == len && strncmp(comp, word, len) == 0;
}

/* An encoding in comp[0..len): SQ4|SQ6|SQ8|SQfp16, PQ<m>[x<bits>][fs] ("fs" only when
 * fast_scan), Flat (only when flat_ok). 0 when it is one, 1 when it is not, -1 (with *err)
 * for a PQ with bad numbers. */
static int code(const char *comp, size_t len, int dim, int flat_ok, int fast_scan, char **err) {
    if ((flat_ok && is(comp, len, "Flat")) || is(comp, len, "SQ4") || is(comp, len, "SQ6") ||
        is(comp, len, "SQ8") || is(comp, len, "SQfp16"))
        return 0;
    const char *p = comp;
    long m = 0;
    int rc = bounded(&p, "PQ", "the PQ sub-quantizer count m", 1, dim, &m, err);
    if (rc) return rc;
    /* FAISS throws on this too, but leaks the half-built index when it does. */
    if (dim % m) return silt_err(err, "PQ%ld: the dimension %d is not a multiple of m = %ld", m, dim, m);
    if (*p == 'x' && bounded(&p, "x", "the PQ bits per code", 1, MAX_PQ_BITS, NULL, err) < 0) return -1;
    if (fast_scan && p[0] == 'f' && p[1] == 's') p += 2;
    return p == comp + len ? 0 : 1;
}

/* A transform in comp[0..len): 0 yes (*dim becomes its output dimension), 1 no, -1 (with
 * *err) bad numbers. */
static int transform(const char *comp, size_t len, int *dim, char **err) {
    if (is(comp, len, "L2norm")) return 0;
    /* Longest prefix first: "PCA" would otherwise claim "PCAR4". */
    static const char *const pca[] = {"PCAWR", "PCAW", "PCAR", "PCA"};
    for (int i = 0; i < 4; i++) {
        const char *p = comp;
        long d = 0;
        int rc = bounded(&p, pca[i], "the PCA output dimension", 1, MAX_OUT_DIM, &d, err);
        if (rc < 0) return -1;
        if (rc == 0 && p == comp + len) *dim = (int)d;
        if (rc == 0) return p == comp + len ? 0 : 1;
    }
    const char *p = comp;
    long m = 0, d = *dim;
    int rc = bounded(&p, "OPQ", "the OPQ sub-quantizer count m", 1, MAX_OUT_DIM, &m, err);
    if (rc) return rc;
    if (*p == '_' && bounded(&p, "_", "the OPQ output dimension", 1, MAX_OUT_DIM, &d, err) < 0)
        return -1;
    if (p != comp + len) return 1;
    if (d % m) return silt_err(err, "OPQ%ld: the dimension %ld is not a multiple of m = %ld", m, d, m);
    *dim = (int)d;
    return 0;
}

int silt_faiss_factory_check(const char *factory, int dim, char **err) {
    if (!factory || !*factory) return silt_err(err, "the index description is empty (%s)", EXPECTED);
    const char *comp = factory;
    const char *comma = strchr(comp, ',');
    size_t len = comma ? (size_t)(comma - comp) : strlen(comp);
    int rc = 0;
    /* Transforms: only before the base, which must follow them. */
    while (comma && (rc = transform(comp, len, &dim, err)) <= 0) {
        if (rc < 0) return -1;
        comp = comma + 1;
        comma = strchr(comp, ',');
        len = comma ? (size_t)(comma - comp) : strlen(comp);
    }
    /* The base: one component, or two for HNSW / IVF with their encoding. */
    const char *next = comma ? comma + 1 : NULL;
    size_t next_len = next ? strcspn(next, ",") : 0;
    int third = next && next[next_len] == ',';
    if (is(comp, len, "Flat") || is(comp, len, "LSH") || (rc = code(comp, len, dim, 0, 1, err)) <= 0) {
        if (is(comp, len, "Flat") || is(comp, len, "LSH") || rc == 0) {
            if (!comma) return 0;
            return silt_err(err, "nothing may follow '%.*s' (%s)", (int)len, comp, EXPECTED);
        }
        return -1;
    }
    const char *p = comp;
    if ((rc = bounded(&p, "HNSW", "the HNSW neighbour count M", 2, MAX_HNSW_M, NULL, err)) <= 0) {
        if (rc < 0) return -1;
        if (!comma && (p == comp + len || strcmp(p, "_Flat") == 0)) return 0;
        if (comma && p == comp + len && !third) {
            if ((rc = code(next, next_len, dim, 1, 0, err)) <= 0) return rc;
        }
        return silt_err(err, "'%.*s' may be followed only by ,Flat, ,PQ<m>[x<bits>] or "
                             ",SQ4|SQ6|SQ8|SQfp16", (int)(p - comp), comp);
    }
    p = comp;
    if ((rc = bounded(&p, "IVF", "the IVF list count nlist", 1, MAX_NLIST, NULL, err)) <= 0) {
        if (rc < 0) return -1;
        if (*p == '_' && bounded(&p, "_HNSW", "the HNSW neighbour count M", 2, MAX_HNSW_M, NULL, err) < 0)
            return -1;
        if (comma && p == comp + len && !third) {
            if ((rc = code(next, next_len, dim, 1, 1, err)) <= 0) return rc;
        }
        return silt_err(err, "'%.*s' must be followed by ,Flat, ,PQ<m>[x<bits>] or "
                             ",SQ4|SQ6|SQ8|SQfp16", (int)(p - comp), comp);
    }
    return silt_err(err, "'%.*s' is not a supported index (%s)", (int)len, comp, EXPECTED);
}
