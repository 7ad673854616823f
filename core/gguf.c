/* gguf.c: mapping and validating GGUF v2/v3 files (see gguf.h).
 *
 * Layout: "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv of
 *   {string key, u32 value type, value}       (string = u64 length + bytes, no NUL)
 * then n_tensors of
 *   {string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset}
 * then padding to general.alignment (default 32) and the data section; offsets are relative
 * to it. Every count and length read from the file is checked against the bytes that remain
 * before anything is allocated from it, so a lying header costs an error, not a crash. */
#include "core/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/half.h"

#define GGUF_DEFAULT_ALIGNMENT 32

struct silt_gguf {
    void *map;
    size_t map_bytes;
    uint32_t version;
    silt_gguf_kv *kvs;       /* in file order */
    int n_kv;
    silt_gguf_tensor *tensors; /* sorted by name */
    int n_tensors;
};

static const struct {
    uint32_t type;
    const char *name;
    uint32_t block_elems; /* elements per block */
    uint32_t block_bytes;
} GGML_TYPES[] = {
    {SILT_GGML_F32, "F32", 1, 4},      {SILT_GGML_F16, "F16", 1, 2},
    {SILT_GGML_Q4_0, "Q4_0", 32, 18},  {SILT_GGML_Q4_1, "Q4_1", 32, 20},
    {SILT_GGML_Q5_0, "Q5_0", 32, 22},  {SILT_GGML_Q5_1, "Q5_1", 32, 24},
    {SILT_GGML_Q8_0, "Q8_0", 32, 34},  {SILT_GGML_Q8_1, "Q8_1", 32, 36},
    {SILT_GGML_Q2_K, "Q2_K", 256, 84}, {SILT_GGML_Q3_K, "Q3_K", 256, 110},
    {SILT_GGML_Q4_K, "Q4_K", 256, 144}, {SILT_GGML_Q5_K, "Q5_K", 256, 176},
    {SILT_GGML_Q6_K, "Q6_K", 256, 210}, {SILT_GGML_Q8_K, "Q8_K", 256, 292},
    {SILT_GGML_I8, "I8", 1, 1},        {SILT_GGML_I16, "I16", 1, 2},
    {SILT_GGML_I32, "I32", 1, 4},      {SILT_GGML_I64, "I64", 1, 8},
    {SILT_GGML_F64, "F64", 1, 8},      {SILT_GGML_BF16, "BF16", 1, 2},
};
#define N_GGML_TYPES ((int)(sizeof GGML_TYPES / sizeof GGML_TYPES[0]))

static int ggml_type_index(uint32_t type) {
    for (int i = 0; i < N_GGML_TYPES; i++)
        if (GGML_TYPES[i].type == type) return i;
    return -1;
}

const char *silt_ggml_type_name(uint32_t type) {
    int i = ggml_type_index(type);
    return i < 0 ? "?" : GGML_TYPES[i].name;
}

/* Bytes of one scalar value of type t; 0 for STRING/ARRAY/unknown. */
static size_t vtype_bytes(uint32_t t) {
    switch (t) {
    case SILT_GGUF_U8: case SILT_GGUF_I8: case SILT_GGUF_BOOL: return 1;
    case SILT_GGUF_U16: case SILT_GGUF_I16: return 2;
    case SILT_GGUF_U32: case SILT_GGUF_I32: case SILT_GGUF_F32: return 4;
    case SILT_GGUF_U64: case SILT_GGUF_I64: case SILT_GGUF_F64: return 8;
    default: return 0;
    }
}

/* ---- bounded reader --------------------------------------------------------------------- */

typedef struct {
    const uint8_t *base, *p, *end;
    const char *path;
    char **err;
} cursor;

static size_t remaining(const cursor *c) { return (size_t)(c->end - c->p); }

static int truncated(cursor *c, const char *what) {
    return silt_err(c->err, "%s: truncated GGUF file: %s at byte %llu runs past the end "
                    "(%llu bytes)", c->path, what, (unsigned long long)(c->p - c->base),
                    (unsigned long long)(c->end - c->base));
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (remaining(c) < 4) return truncated(c, what);
    *v = silt_le32(c->p);
    c->p += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (remaining(c) < 8) return truncated(c, what);
    *v = silt_le64(c->p);
    c->p += 8;
    return 0;
}

/* Reads a GGUF string; *s points into the map. */
static int rd_str(cursor *c, const char **s, uint64_t *len, const char *what) {
    if (rd_u64(c, len, what) != 0) return -1;
    if (*len > remaining(c)) return truncated(c, what);
    *s = (const char *)c->p;
    c->p += *len;
    return 0;
}

/* A NUL-terminated copy of a key or tensor name (names with NUL bytes are rejected: they
 * could never be looked up). */
static char *dup_name(cursor *c, const char *s, uint64_t len, const char *what) {
    if (memchr(s, 0, len)) {
        silt_err(c->err, "%s: %s contains a NUL byte", c->path, what);
        return NULL;
    }
    char *r = malloc(len + 1);
    if (!r) {
        silt_err(c->err, "out of memory");
        return NULL;
    }
    memcpy(r, s, len);
    r[len] = 0;
    return r;
}

/* ---- metadata ----------------------------------------------------------------------------- */

static int read_value(cursor *c, silt_gguf_kv *kv) {
    uint32_t t = 0;
    if (rd_u32(c, &t, "metadata value type") != 0) return -1;
    kv->type = t;
    kv->n = 1;
    if (t == SILT_GGUF_STRING) {
        kv->str = malloc(sizeof *kv->str);
        kv->str_len = malloc(sizeof *kv->str_len);
        if (!kv->str || !kv->str_len) return silt_err(c->err, "out of memory");
        kv->data = c->p;
        return rd_str(c, &kv->str[0], &kv->str_len[0], "metadata string");
    }
    if (t == SILT_GGUF_ARRAY) {
        uint32_t at = 0;
        if (rd_u32(c, &at, "array element type") != 0 || rd_u64(c, &kv->n, "array length") != 0)
            return -1;
        kv->arr_type = at;
        kv->data = c->p;
        if (at == SILT_GGUF_STRING) {
            /* Each string takes at least its 8-byte length: bound n before allocating. */
            if (kv->n > remaining(c) / 8) return truncated(c, "string array");
            kv->str = malloc((size_t)kv->n * sizeof *kv->str + 1);
            kv->str_len = malloc((size_t)kv->n * sizeof *kv->str_len + 1);
            if (!kv->str || !kv->str_len) return silt_err(c->err, "out of memory");
            for (uint64_t i = 0; i < kv->n; i++)
                if (rd_str(c, &kv->str[i], &kv->str_len[i], "string array element") != 0)
                    return -1;
            return 0;
        }
        size_t eb = vtype_bytes(at);
        if (eb == 0)
            return silt_err(c->err, "%s: key '%s': array element type %u is not supported "
                            "(nested arrays or unknown type)", c->path, kv->key, at);
        if (kv->n > remaining(c) / eb) return truncated(c, "array");
        c->p += kv->n * eb;
        return 0;
    }
    size_t vb = vtype_bytes(t);
    if (vb == 0)
        return silt_err(c->err, "%s: key '%s' has unknown value type %u", c->path, kv->key, t);
    if (remaining(c) < vb) return truncated(c, "metadata value");
    kv->data = c->p;
    c->p += vb;
    return 0;
}

const silt_gguf_kv *silt_gguf_find_kv(const silt_gguf *g, const char *key) {
    for (int i = 0; i < g->n_kv; i++)
        if (strcmp(g->kvs[i].key, key) == 0) return &g->kvs[i];
    return NULL;
}

/* A scalar numeric value as int64 (non-integers and strings give -1 via ok=0). */
static int64_t num_as_int(uint32_t t, const uint8_t *p, int *ok) {
    *ok = 1;
    switch (t) {
    case SILT_GGUF_U8: case SILT_GGUF_BOOL: return *p;
    case SILT_GGUF_I8: return (int8_t)*p;
    case SILT_GGUF_U16: return silt_le16(p);
    case SILT_GGUF_I16: return (int16_t)silt_le16(p);
    case SILT_GGUF_U32: return silt_le32(p);
    case SILT_GGUF_I32: return (int32_t)silt_le32(p);
    case SILT_GGUF_U64: {
        uint64_t v = silt_le64(p);
        if (v > INT64_MAX) *ok = 0;
        return (int64_t)v;
    }
    case SILT_GGUF_I64: return (int64_t)silt_le64(p);
    default: *ok = 0; return 0;
    }
}

static double num_as_float(uint32_t t, const uint8_t *p, int *ok) {
    if (t == SILT_GGUF_F32) {
        *ok = 1;
        return silt_f32_from_bits(silt_le32(p));
    }
    if (t == SILT_GGUF_F64) {
        uint64_t u = silt_le64(p);
        double d;
        memcpy(&d, &u, sizeof d);
        *ok = 1;
        return d;
    }
    return (double)num_as_int(t, p, ok);
}

int silt_gguf_get_int(const silt_gguf *g, const char *key, int64_t *out, char **err) {
    const silt_gguf_kv *kv = silt_gguf_find_kv(g, key);
    if (!kv) return silt_err(err, "GGUF key '%s' is missing", key);
    int ok = 0;
    if (kv->type != SILT_GGUF_ARRAY && kv->type != SILT_GGUF_STRING)
        *out = num_as_int(kv->type, kv->data, &ok);
    if (!ok) return silt_err(err, "GGUF key '%s' is not an integer", key);
    return 0;
}

int silt_gguf_get_float(const silt_gguf *g, const char *key, double *out, char **err) {
    const silt_gguf_kv *kv = silt_gguf_find_kv(g, key);
    if (!kv) return silt_err(err, "GGUF key '%s' is missing", key);
    int ok = 0;
    if (kv->type != SILT_GGUF_ARRAY && kv->type != SILT_GGUF_STRING)
        *out = num_as_float(kv->type, kv->data, &ok);
    if (!ok) return silt_err(err, "GGUF key '%s' is not a number", key);
    return 0;
}

int silt_gguf_get_str(const silt_gguf *g, const char *key, const char **s, size_t *len,
                      char **err) {
    const silt_gguf_kv *kv = silt_gguf_find_kv(g, key);
    if (!kv) return silt_err(err, "GGUF key '%s' is missing", key);
    if (kv->type != SILT_GGUF_STRING) return silt_err(err, "GGUF key '%s' is not a string", key);
    *s = kv->str[0];
    *len = (size_t)kv->str_len[0];
    return 0;
}

int64_t silt_gguf_arr_int(const silt_gguf_kv *kv, uint64_t i) {
    if (kv->type != SILT_GGUF_ARRAY || i >= kv->n) return 0;
    size_t eb = vtype_bytes(kv->arr_type);
    int ok;
    return eb ? num_as_int(kv->arr_type, kv->data + i * eb, &ok) : 0;
}

double silt_gguf_arr_float(const silt_gguf_kv *kv, uint64_t i) {
    if (kv->type != SILT_GGUF_ARRAY || i >= kv->n) return 0;
    size_t eb = vtype_bytes(kv->arr_type);
    int ok;
    return eb ? num_as_float(kv->arr_type, kv->data + i * eb, &ok) : 0;
}

const char *silt_gguf_arr_str(const silt_gguf_kv *kv, uint64_t i, size_t *len) {
    if (kv->type != SILT_GGUF_ARRAY || kv->arr_type != SILT_GGUF_STRING || i >= kv->n)
        return NULL;
    *len = (size_t)kv->str_len[i];
    return kv->str[i];
}

/* ---- tensors -------------------------------------------------------------------------------- */

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const silt_gguf_tensor *)a)->name, ((const silt_gguf_tensor *)b)->name);
}

typedef struct {
    uint64_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Reads tensor info i (shape, type, offset); bytes are checked later, once the data section
 * is known. *offset receives the relative offset. */
static int read_tensor_info(cursor *c, silt_gguf_tensor *t, uint64_t *offset) {
    const char *s = NULL;
    uint64_t len = 0;
    if (rd_str(c, &s, &len, "tensor name") != 0) return -1;
    if (!(t->name = dup_name(c, s, len, "a tensor name"))) return -1;
    uint32_t n_dims = 0;
    if (rd_u32(c, &n_dims, "tensor dimension count") != 0) return -1;
    if (n_dims < 1 || n_dims > SILT_GGUF_MAX_DIMS)
        return silt_err(c->err, "%s: tensor '%s' has %u dimensions (expected 1 to %d)", c->path,
                        t->name, n_dims, SILT_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    uint64_t n_elems = 1;
    for (int d = 0; d < SILT_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne = 0;
        if (rd_u64(c, &ne, "tensor shape") != 0) return -1;
        if (ne > INT64_MAX || (ne != 0 && n_elems > (uint64_t)INT64_MAX / ne))
            return silt_err(c->err, "%s: tensor '%s': shape is too large", c->path, t->name);
        t->ne[d] = (int64_t)ne;
        n_elems *= ne;
    }
    t->n_elems = n_elems;
    if (rd_u32(c, &t->type, "tensor type") != 0 || rd_u64(c, offset, "tensor offset") != 0)
        return -1;
    int ti = ggml_type_index(t->type);
    if (ti < 0)
        return silt_err(c->err, "%s: tensor '%s' has unknown ggml type %u", c->path, t->name,
                        t->type);
    uint32_t be = GGML_TYPES[ti].block_elems;
    if (t->ne[0] % be != 0)
        return silt_err(c->err, "%s: tensor '%s': row length %lld is not a multiple of the %s "
                        "block size %u", c->path, t->name, (long long)t->ne[0],
                        GGML_TYPES[ti].name, be);
    uint64_t blocks = n_elems / be;
    if (blocks > UINT64_MAX / GGML_TYPES[ti].block_bytes)
        return silt_err(c->err, "%s: tensor '%s': shape is too large", c->path, t->name);
    t->n_bytes = (size_t)(blocks * GGML_TYPES[ti].block_bytes);
    return 0;
}

void silt_gguf_close(silt_gguf *g) {
    if (!g) return;
    for (int i = 0; i < g->n_kv; i++) {
        free((char *)g->kvs[i].key);
        free(g->kvs[i].str);
        free(g->kvs[i].str_len);
    }
    for (int i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->kvs);
    free(g->tensors);
    if (g->map) munmap(g->map, g->map_bytes);
    free(g);
}

static int parse(silt_gguf *g, const char *path, char **err) {
    cursor c = {g->map, g->map, (const uint8_t *)g->map + g->map_bytes, path, err};
    if (g->map_bytes < 4 || memcmp(c.p, "GGUF", 4) != 0)
        return silt_err(err, "%s is not a GGUF file (no 'GGUF' magic)", path);
    c.p += 4;
    uint64_t n_tensors = 0, n_kv = 0;
    if (rd_u32(&c, &g->version, "version") != 0) return -1;
    if (g->version != 2 && g->version != 3)
        return silt_err(err, "%s: GGUF version %u is not supported (expected 2 or 3)", path,
                        g->version);
    if (rd_u64(&c, &n_tensors, "tensor count") != 0 || rd_u64(&c, &n_kv, "key count") != 0)
        return -1;
    /* A key/value takes at least 13 bytes (key length, type, 1-byte value), a tensor info 24. */
    if (n_kv > remaining(&c) / 13)
        return silt_err(err, "%s: header claims %llu metadata keys, more than the file can hold",
                        path, (unsigned long long)n_kv);
    if (n_tensors > remaining(&c) / 24)
        return silt_err(err, "%s: header claims %llu tensors, more than the file can hold", path,
                        (unsigned long long)n_tensors);
    g->kvs = calloc((size_t)n_kv + 1, sizeof *g->kvs);
    g->tensors = calloc((size_t)n_tensors + 1, sizeof *g->tensors);
    if (!g->kvs || !g->tensors) return silt_err(err, "out of memory");

    uint32_t alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        silt_gguf_kv *kv = &g->kvs[i];
        const char *s = NULL;
        uint64_t len = 0;
        if (rd_str(&c, &s, &len, "metadata key") != 0) return -1;
        if (!(kv->key = dup_name(&c, s, len, "a metadata key"))) return -1;
        g->n_kv = (int)i + 1;
        if (read_value(&c, kv) != 0) return -1;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->kvs[j].key, kv->key) == 0)
                return silt_err(err, "%s: metadata key '%s' appears twice", path, kv->key);
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->type != SILT_GGUF_U32)
                return silt_err(err, "%s: general.alignment must be a u32", path);
            alignment = silt_le32(kv->data);
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                return silt_err(err, "%s: general.alignment %u is not a power of two", path,
                                alignment);
        }
    }

    uint64_t *offsets = calloc((size_t)n_tensors + 1, sizeof *offsets);
    span *spans = calloc((size_t)n_tensors + 1, sizeof *spans);
    int rc = -1;
    if (!offsets || !spans) {
        silt_err(err, "out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        g->n_tensors = (int)i + 1;
        if (read_tensor_info(&c, &g->tensors[i], &offsets[i]) != 0) goto done;
    }
    uint64_t pos = (uint64_t)(c.p - c.base);
    uint64_t data_start = (pos + alignment - 1) / alignment * alignment;
    uint64_t data_bytes = data_start <= g->map_bytes ? g->map_bytes - data_start : 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        silt_gguf_tensor *t = &g->tensors[i];
        if (offsets[i] % alignment != 0) {
            silt_err(err, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                     path, t->name, (unsigned long long)offsets[i], alignment);
            goto done;
        }
        if (offsets[i] > data_bytes || t->n_bytes > data_bytes - offsets[i]) {
            silt_err(err, "%s: tensor '%s': %llu bytes at offset %llu run past the end of the "
                     "data section (%llu bytes); the file is truncated or the header lies",
                     path, t->name, (unsigned long long)t->n_bytes,
                     (unsigned long long)offsets[i], (unsigned long long)data_bytes);
            goto done;
        }
        t->data = c.base + data_start + offsets[i];
        spans[i].begin = offsets[i];
        spans[i].end = offsets[i] + t->n_bytes;
        spans[i].name = t->name;
    }
    qsort(spans, (size_t)n_tensors, sizeof *spans, cmp_span);
    for (uint64_t i = 1; i < n_tensors; i++)
        if (spans[i].begin < spans[i - 1].end) {
            silt_err(err, "%s: tensors '%s' and '%s' overlap in the data section", path,
                     spans[i - 1].name, spans[i].name);
            goto done;
        }
    qsort(g->tensors, (size_t)n_tensors, sizeof *g->tensors, cmp_tensor_name);
    for (uint64_t i = 1; i < n_tensors; i++)
        if (strcmp(g->tensors[i].name, g->tensors[i - 1].name) == 0) {
            silt_err(err, "%s: tensor '%s' appears twice", path, g->tensors[i].name);
            goto done;
        }
    rc = 0;
done:
    free(offsets);
    free(spans);
    return rc;
}

silt_gguf *silt_gguf_open(const char *path, char **err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        silt_err(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat s;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) {
        close(fd);
        silt_err(err, "%s is not a regular file", path);
        return NULL;
    }
    if (s.st_size < 24) {
        close(fd);
        silt_err(err, "%s is not a GGUF file: %lld bytes, the fixed header alone needs 24", path,
                 (long long)s.st_size);
        return NULL;
    }
    silt_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        close(fd);
        silt_err(err, "out of memory");
        return NULL;
    }
    void *m = mmap(NULL, (size_t)s.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        free(g);
        silt_err(err, "cannot map %s: %s", path, strerror(errno));
        return NULL;
    }
    g->map = m;
    g->map_bytes = (size_t)s.st_size;
    if (parse(g, path, err) != 0) {
        silt_gguf_close(g);
        return NULL;
    }
    return g;
}

uint32_t silt_gguf_version(const silt_gguf *g) { return g->version; }
int silt_gguf_kv_count(const silt_gguf *g) { return g->n_kv; }
const silt_gguf_kv *silt_gguf_kv_at(const silt_gguf *g, int i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}
int silt_gguf_tensor_count(const silt_gguf *g) { return g->n_tensors; }
const silt_gguf_tensor *silt_gguf_tensor_at(const silt_gguf *g, int i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const silt_gguf_tensor *silt_gguf_find_tensor(const silt_gguf *g, const char *name) {
    int lo = 0, hi = g->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, g->tensors[mid].name);
        if (c == 0) return &g->tensors[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

int silt_gguf_tensor_to_f32(const silt_gguf_tensor *t, float *out, char **err) {
    const uint8_t *p = t->data;
    switch (t->type) {
    case SILT_GGML_F32:
        memcpy(out, p, t->n_bytes);
        return 0;
    case SILT_GGML_F16:
        for (uint64_t i = 0; i < t->n_elems; i++) out[i] = silt_half_to_f32(silt_le16(p + 2 * i));
        return 0;
    case SILT_GGML_BF16:
        for (uint64_t i = 0; i < t->n_elems; i++) out[i] = silt_bf16_to_f32(silt_le16(p + 2 * i));
        return 0;
    case SILT_GGML_Q8_0:
        /* Block of 32: f16 scale d, then 32 int8 q; value = d * q. */
        for (uint64_t b = 0; b < t->n_elems / 32; b++) {
            const uint8_t *blk = p + b * 34;
            float d = silt_half_to_f32(silt_le16(blk));
            for (int j = 0; j < 32; j++) out[b * 32 + j] = d * (float)(int8_t)blk[2 + j];
        }
        return 0;
    default:
        return silt_err(err, "tensor '%s' has ggml type %s; silt reads F32, F16, BF16 and Q8_0",
                        t->name, silt_ggml_type_name(t->type));
    }
}
