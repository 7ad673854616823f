/* sparse_vec.c: the silt_sparse BLOB format and its JSON form (see sparse_vec.h). */
#include "core/sparse_vec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_u32(unsigned char *p, uint32_t x) {
    p[0] = (unsigned char)x, p[1] = (unsigned char)(x >> 8);
    p[2] = (unsigned char)(x >> 16), p[3] = (unsigned char)(x >> 24);
}
static float get_f32(const unsigned char *p) {
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void silt_sparse_vec_free(silt_sparse_vec *v) {
    free(v->ids);
    free(v->weights);
    memset(v, 0, sizeof *v);
}

/* Allocates the arrays of out for n terms (at least one byte so that n = 0 is not NULL). */
static int alloc_vec(silt_sparse_vec *out, size_t n, char **err) {
    memset(out, 0, sizeof *out);
    out->ids = malloc(n ? n * sizeof(uint32_t) : 1);
    out->weights = malloc(n ? n * sizeof(float) : 1);
    if (!out->ids || !out->weights) {
        silt_sparse_vec_free(out);
        return silt_err(err, "out of memory for a sparse vector of %zu terms", n);
    }
    out->n = (uint32_t)n;
    return 0;
}

int silt_sparse_check(const void *blob, size_t n_bytes, uint32_t *n_terms, char **err) {
    const unsigned char *p = blob;
    if (n_bytes < 4 || (n_bytes - 4) % 8)
        return silt_err(err, "sparse BLOB of %zu bytes: expected 4 + 8n bytes (uint32 n, n "
                             "uint32 ids, n float32 weights)", n_bytes);
    uint32_t n = get_u32(p);
    if ((uint64_t)n * 8 + 4 != n_bytes)
        return silt_err(err, "sparse BLOB says %u terms but holds %zu bytes (expected %llu)",
                        n, n_bytes, (unsigned long long)n * 8 + 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = get_u32(p + 4 + 4 * (size_t)i);
        if (i && id <= get_u32(p + 4 * (size_t)i))
            return silt_err(err, "sparse BLOB: term ids not strictly increasing at position %u "
                                 "(%u after %u)", i, id, get_u32(p + 4 * (size_t)i));
        float w = get_f32(p + 4 + 4 * (size_t)n + 4 * (size_t)i);
        if (!isfinite(w) || w == 0)
            return silt_err(err, "sparse BLOB: weight of term %u is %g (expected a finite "
                                 "non-zero number)", id, (double)w);
    }
    if (n_terms) *n_terms = n;
    return 0;
}

int silt_sparse_decode(const void *blob, size_t n_bytes, silt_sparse_vec *out, char **err) {
    uint32_t n;
    memset(out, 0, sizeof *out);
    if (silt_sparse_check(blob, n_bytes, &n, err)) return -1;
    if (alloc_vec(out, n, err)) return -1;
    const unsigned char *p = blob;
    for (uint32_t i = 0; i < n; i++) {
        out->ids[i] = get_u32(p + 4 + 4 * (size_t)i);
        out->weights[i] = get_f32(p + 4 + 4 * (size_t)n + 4 * (size_t)i);
    }
    return 0;
}

int silt_sparse_encode(const silt_sparse_vec *v, void **blob, size_t *n_bytes, char **err) {
    size_t size = 4 + 8 * (size_t)v->n;
    unsigned char *p = malloc(size);
    if (!p) return silt_err(err, "out of memory for a sparse BLOB of %zu bytes", size);
    put_u32(p, v->n);
    for (uint32_t i = 0; i < v->n; i++) {
        if (i && v->ids[i] <= v->ids[i - 1]) {
            free(p);
            return silt_err(err, "sparse vector: term ids not strictly increasing (%u after %u)",
                            v->ids[i], v->ids[i - 1]);
        }
        uint32_t u;
        memcpy(&u, &v->weights[i], sizeof u);
        put_u32(p + 4 + 4 * (size_t)i, v->ids[i]);
        put_u32(p + 4 + 4 * (size_t)v->n + 4 * (size_t)i, u);
    }
    *blob = p;
    *n_bytes = size;
    return 0;
}

int silt_sparse_from_dense(const float *w, int dim, silt_sparse_vec *out, char **err) {
    size_t nz = 0;
    for (int i = 0; i < dim; i++) nz += w[i] != 0;
    if (alloc_vec(out, nz, err)) return -1;
    size_t k = 0;
    for (int i = 0; i < dim; i++) {
        if (w[i] == 0) continue;
        if (!isfinite(w[i])) {
            silt_sparse_vec_free(out);
            return silt_err(err, "sparse encoder produced a non-finite weight for term %d", i);
        }
        out->ids[k] = (uint32_t)i;
        out->weights[k++] = w[i];
    }
    return 0;
}

typedef struct {
    uint32_t id;
    float w;
    const char *key; /* the JSON key it came from, for duplicate messages */
} term_entry;

static int cmp_entry(const void *a, const void *b) {
    uint32_t x = ((const term_entry *)a)->id, y = ((const term_entry *)b)->id;
    return x < y ? -1 : x > y;
}

/* Reads a key made of decimal digits as an id: 1 when it is one (*id set), 0 when the key is
 * not all digits, -1 when it is digits but too large for uint32. */
static int key_as_id(const char *key, uint32_t *id) {
    if (!*key) return 0;
    uint64_t x = 0;
    for (const char *k = key; *k; k++) {
        if (*k < '0' || *k > '9') return 0;
        x = x * 10 + (uint64_t)(*k - '0');
        if (x > UINT32_MAX) return -1;
    }
    *id = (uint32_t)x;
    return 1;
}

int silt_sparse_from_json(const char *text, size_t len, silt_sparse_term_id_fn term_id,
                          void *ctx, silt_sparse_vec *out, char **err) {
    memset(out, 0, sizeof *out);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    /* Only whitespace may follow the object. */
    while (root && end && end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' ||
                                                *end == '\r'))
        end++;
    if (!root || !cJSON_IsObject(root) || (end && end < text + len)) {
        cJSON_Delete(root);
        return silt_err(err, "sparse vector: expected a JSON object {\"term or id\": weight, "
                             "...} or a sparse BLOB, got '%.*s%s'",
                        (int)(len > 40 ? 40 : len), text, len > 40 ? "..." : "");
    }
    int n_items = cJSON_GetArraySize(root);
    term_entry *e = malloc(n_items ? (size_t)n_items * sizeof *e : 1);
    if (!e) {
        cJSON_Delete(root);
        return silt_err(err, "out of memory");
    }
    size_t n = 0;
    int rc = 0;
    for (cJSON *it = root->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        if (!cJSON_IsNumber(it)) {
            rc = silt_err(err, "sparse vector: weight of \"%s\" is not a number", key);
            break;
        }
        double w = it->valuedouble;
        /* Whether it rounds to a finite float32 (as vecparse.c asks): "-3.4028235e+38", the
         * shortest text of -FLT_MAX, is a little above FLT_MAX as a double. */
        if (!isfinite(w) || !isfinite((float)w)) {
            rc = silt_err(err, "sparse vector: weight of \"%s\" is not a finite float32", key);
            break;
        }
        uint32_t id;
        int k = key_as_id(key, &id);
        if (k < 0) {
            rc = silt_err(err, "sparse vector: term id %s is out of range (0..4294967295)", key);
            break;
        }
        if (k == 0) {
            if (!term_id) {
                rc = silt_err(err, "sparse vector: term \"%s\" is a token string; give a model "
                                   "to look it up, or use term ids", key);
                break;
            }
            int32_t t = term_id(ctx, key, strlen(key));
            if (t < 0) {
                rc = silt_err(err, "sparse vector: term \"%s\" is not in the model's vocabulary",
                              key);
                break;
            }
            id = (uint32_t)t;
        }
        if ((float)w == 0) continue;
        e[n].id = id;
        e[n].w = (float)w;
        e[n++].key = key;
    }
    if (rc == 0) {
        qsort(e, n, sizeof *e, cmp_entry);
        for (size_t i = 1; i < n; i++)
            if (e[i].id == e[i - 1].id) {
                rc = silt_err(err, "sparse vector: term id %u given twice (\"%s\" and \"%s\")",
                              e[i].id, e[i - 1].key, e[i].key);
                break;
            }
    }
    if (rc == 0 && alloc_vec(out, n, err) == 0) {
        for (size_t i = 0; i < n; i++) out->ids[i] = e[i].id, out->weights[i] = e[i].w;
    } else {
        rc = -1;
    }
    free(e);
    cJSON_Delete(root);
    return rc;
}

/* A growable string; on allocation failure it sets failed and ignores further appends. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

/* Appends s as a JSON string literal (quotes, backslashes and control bytes escaped). */
static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p;
            sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

char *silt_sparse_to_json(const silt_sparse_vec *v, silt_sparse_term_text_fn term_text,
                          silt_sparse_term_id_fn term_id, void *ctx) {
    strbuf b = {0};
    sb_put(&b, "{", 1);
    for (uint32_t i = 0; i < v->n; i++) {
        char buf[40];
        if (i) sb_put(&b, ",", 1);
        const char *t = term_text && v->ids[i] <= INT32_MAX ? term_text(ctx, (int32_t)v->ids[i])
                                                            : NULL;
        uint32_t dummy;
        /* A token text that reads back as another id (digits, or a duplicate piece) keeps
         * the id, so that the JSON parses back to the same vector. */
        if (t && (key_as_id(t, &dummy) != 0 ||
                  (term_id && term_id(ctx, t, strlen(t)) != (int32_t)v->ids[i])))
            t = NULL;
        if (t) {
            sb_json_string(&b, t);
        } else {
            snprintf(buf, sizeof buf, "\"%u\"", v->ids[i]);
            sb_put(&b, buf, strlen(buf));
        }
        sb_put(&b, ":", 1);
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, (double)v->weights[i]);
            if (strtof(buf, NULL) == v->weights[i]) break;
        }
        sb_put(&b, buf, strlen(buf));
    }
    sb_put(&b, "}", 1);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
