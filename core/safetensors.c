/* safetensors.c: mapping and validating .safetensors files (see safetensors.h).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
 * then the data section; offsets are relative to its start. Everything a lying header could
 * say (N past EOF, offsets past the end, shape not matching the byte count, overlapping
 * tensors, unknown dtypes) is rejected here so that readers never index outside the map. */
#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/half.h"

/* The format's own limit on the JSON header (the reference implementation refuses more). */
#define ST_MAX_HEADER_BYTES 100000000ull

typedef struct {
    void *map;          /* whole file, read-only */
    size_t map_bytes;
    char *path;         /* for messages */
    char *file_name;    /* last path component, to check index.json shard names */
} st_shard;

struct silt_safetensors {
    st_shard *shards;
    int n_shards;
    silt_st_tensor *tensors; /* sorted by name (unique) */
    int *tensor_shard;       /* shard index of tensors[i] */
    int n_tensors;
    char **names;            /* owned names, one per tensor (pointed to by tensors[i].name) */
};

static const struct {
    const char *name;
    silt_st_dtype dtype;
    size_t elem_bytes;
} DTYPES[] = {
    {"F32", SILT_ST_F32, 4},     {"F16", SILT_ST_F16, 2},         {"BF16", SILT_ST_BF16, 2},
    {"F64", SILT_ST_F64, 8},     {"I64", SILT_ST_I64, 8},         {"I32", SILT_ST_I32, 4},
    {"I16", SILT_ST_I16, 2},     {"I8", SILT_ST_I8, 1},           {"U64", SILT_ST_U64, 8},
    {"U32", SILT_ST_U32, 4},     {"U16", SILT_ST_U16, 2},         {"U8", SILT_ST_U8, 1},
    {"BOOL", SILT_ST_BOOL, 1},   {"F8_E4M3", SILT_ST_F8_E4M3, 1}, {"F8_E5M2", SILT_ST_F8_E5M2, 1},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *silt_st_dtype_name(silt_st_dtype dtype) {
    for (int i = 0; i < N_DTYPES; i++)
        if (DTYPES[i].dtype == dtype) return DTYPES[i].name;
    return "?";
}

/* Maps path read-only into *sh. Returns 0, or -1 with *err set. */
static int map_file(const char *path, st_shard *sh, char **err) {
    memset(sh, 0, sizeof *sh);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return silt_err(err, "cannot open %s: %s", path, strerror(errno));
    struct stat s;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) {
        close(fd);
        return silt_err(err, "%s is not a regular file", path);
    }
    if (s.st_size < 8) {
        close(fd);
        return silt_err(err, "%s is not a safetensors file: %lld bytes, the 8-byte header "
                        "length alone needs 8", path, (long long)s.st_size);
    }
    void *m = mmap(NULL, (size_t)s.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return silt_err(err, "cannot map %s: %s", path, strerror(errno));
    sh->map = m;
    sh->map_bytes = (size_t)s.st_size;
    sh->path = strdup(path);
    const char *slash = strrchr(path, '/');
    sh->file_name = strdup(slash ? slash + 1 : path);
    if (!sh->path || !sh->file_name) return silt_err(err, "out of memory");
    return 0;
}

static void unmap_shard(st_shard *sh) {
    if (sh->map) munmap(sh->map, sh->map_bytes);
    free(sh->path);
    free(sh->file_name);
}

/* Reads a JSON number that must be a non-negative integer below 2^53 (exact in a double). */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

typedef struct {
    uint64_t begin, end;
    const char *name;
} st_span;

static int cmp_span(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Appends tensor i of shard `shard` to st (arrays grown by the caller to the right size). */
static int parse_tensor(silt_safetensors *st, int shard, const cJSON *item, const uint8_t *data,
                        uint64_t data_bytes, st_span *span, char **err) {
    const char *path = st->shards[shard].path;
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return silt_err(err, "%s: tensor '%s' is not a JSON object", path, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo))
        return silt_err(err, "%s: tensor '%s' needs string 'dtype', array 'shape' and array "
                        "'data_offsets'", path, name);
    int d = -1;
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(jd->valuestring, DTYPES[i].name) == 0) d = i;
    if (d < 0)
        return silt_err(err, "%s: tensor '%s' has unknown dtype '%.40s' (expected F32, F16, "
                        "BF16, F64, I64, I32, I16, I8, U8, BOOL, ...)", path, name,
                        jd->valuestring);
    silt_st_tensor *t = &st->tensors[st->n_tensors];
    memset(t, 0, sizeof *t);
    t->dtype = DTYPES[d].dtype;
    int n_dims = cJSON_GetArraySize(js);
    if (n_dims > SILT_ST_MAX_DIMS)
        return silt_err(err, "%s: tensor '%s' has %d dimensions (at most %d supported)", path,
                        name, n_dims, SILT_ST_MAX_DIMS);
    t->n_dims = n_dims;
    uint64_t n_elems = 1;
    int overflow = 0;
    for (int i = 0; i < n_dims; i++) {
        uint64_t dim;
        if (json_uint(cJSON_GetArrayItem(js, i), &dim) != 0)
            return silt_err(err, "%s: tensor '%s': shape[%d] is not a non-negative integer", path,
                            name, i);
        t->shape[i] = (int64_t)dim;
        if (dim != 0 && n_elems > UINT64_MAX / dim) overflow = 1;
        else n_elems *= dim;
    }
    if (overflow || n_elems > UINT64_MAX / DTYPES[d].elem_bytes)
        return silt_err(err, "%s: tensor '%s': shape is too large", path, name);
    t->n_elems = n_elems;
    uint64_t want_bytes = n_elems * DTYPES[d].elem_bytes;
    uint64_t b, e;
    if (cJSON_GetArraySize(jo) != 2 || json_uint(cJSON_GetArrayItem(jo, 0), &b) != 0 ||
        json_uint(cJSON_GetArrayItem(jo, 1), &e) != 0 || b > e)
        return silt_err(err, "%s: tensor '%s': data_offsets must be [begin, end] integers with "
                        "begin <= end", path, name);
    if (e > data_bytes)
        return silt_err(err, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of "
                        "the data section (%llu bytes); the file is truncated or the header lies",
                        path, name, (unsigned long long)b, (unsigned long long)e,
                        (unsigned long long)data_bytes);
    if (e - b != want_bytes)
        return silt_err(err, "%s: tensor '%s': %s shape needs %llu bytes but data_offsets span "
                        "%llu", path, name, DTYPES[d].name, (unsigned long long)want_bytes,
                        (unsigned long long)(e - b));
    t->data = data + b;
    t->n_bytes = (size_t)(e - b);
    span->begin = b;
    span->end = e;
    span->name = name;
    return 0;
}

/* Parses the header of shard `shard` (already mapped) and appends its tensors to st. */
static int parse_shard(silt_safetensors *st, int shard, char **err) {
    st_shard *sh = &st->shards[shard];
    const uint8_t *base = sh->map;
    uint64_t header_bytes = silt_le64(base);
    if (header_bytes > sh->map_bytes - 8)
        return silt_err(err, "%s: header length %llu runs past the end of the file (%llu bytes)",
                        sh->path, (unsigned long long)header_bytes,
                        (unsigned long long)sh->map_bytes);
    if (header_bytes > ST_MAX_HEADER_BYTES)
        return silt_err(err, "%s: header length %llu exceeds the format's limit of %llu bytes",
                        sh->path, (unsigned long long)header_bytes, ST_MAX_HEADER_BYTES);
    const char *hdr = (const char *)base + 8;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)header_bytes, &end, 0);
    if (!root) return silt_err(err, "%s: header is not valid JSON", sh->path);
    /* The writer may pad the header with spaces up to an alignment; anything else is junk. */
    for (const char *p = end; p && p < hdr + header_bytes; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            cJSON_Delete(root);
            return silt_err(err, "%s: unexpected bytes after the JSON header", sh->path);
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return silt_err(err, "%s: header is not a JSON object", sh->path);
    }
    const uint8_t *data = base + 8 + header_bytes;
    uint64_t data_bytes = sh->map_bytes - 8 - header_bytes;
    int n_items = cJSON_GetArraySize(root);
    int rc = -1;
    st_span *spans = calloc((size_t)n_items + 1, sizeof *spans);
    silt_st_tensor *nt = realloc(st->tensors, ((size_t)st->n_tensors + n_items + 1) * sizeof *nt);
    if (nt) st->tensors = nt;
    int *ns = realloc(st->tensor_shard, ((size_t)st->n_tensors + n_items + 1) * sizeof *ns);
    if (ns) st->tensor_shard = ns;
    char **nn = realloc(st->names, ((size_t)st->n_tensors + n_items + 1) * sizeof *nn);
    if (nn) st->names = nn;
    if (!spans || !nt || !ns || !nn) {
        silt_err(err, "out of memory");
        goto done;
    }
    int n_spans = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) continue;
        if (parse_tensor(st, shard, item, data, data_bytes, &spans[n_spans], err) != 0)
            goto done;
        char *name = strdup(item->string);
        if (!name) {
            silt_err(err, "out of memory");
            goto done;
        }
        st->names[st->n_tensors] = name;
        st->tensors[st->n_tensors].name = name;
        st->tensor_shard[st->n_tensors] = shard;
        spans[n_spans].name = name;
        st->n_tensors++;
        n_spans++;
    }
    qsort(spans, (size_t)n_spans, sizeof *spans, cmp_span);
    for (int i = 1; i < n_spans; i++)
        if (spans[i].begin < spans[i - 1].end) {
            silt_err(err, "%s: tensors '%s' and '%s' overlap in the data section", sh->path,
                     spans[i - 1].name, spans[i].name);
            goto done;
        }
    rc = 0;
done:
    free(spans);
    cJSON_Delete(root);
    return rc;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const silt_st_tensor *)a)->name, ((const silt_st_tensor *)b)->name);
}

/* Sorts tensors by name (the shard index array is rebuilt alongside) and rejects duplicate
 * names: across shards, or twice in one header (cJSON keeps both copies of a key). */
static int finish(silt_safetensors *st, char **err) {
    /* Encode the shard in the tensor ordering: sort (tensor, shard) pairs together. */
    typedef struct {
        silt_st_tensor t;
        int shard;
    } pair;
    pair *p = malloc(((size_t)st->n_tensors + 1) * sizeof *p);
    if (!p) return silt_err(err, "out of memory");
    for (int i = 0; i < st->n_tensors; i++) {
        p[i].t = st->tensors[i];
        p[i].shard = st->tensor_shard[i];
    }
    qsort(p, (size_t)st->n_tensors, sizeof *p, cmp_tensor_name);
    for (int i = 0; i < st->n_tensors; i++) {
        st->tensors[i] = p[i].t;
        st->tensor_shard[i] = p[i].shard;
    }
    free(p);
    for (int i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, st->tensors[i - 1].name) == 0)
            return silt_err(err, "tensor '%s' appears twice", st->tensors[i].name);
    return 0;
}

void silt_safetensors_close(silt_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_shards; i++) unmap_shard(&st->shards[i]);
    for (int i = 0; i < st->n_tensors; i++) free(st->names[i]);
    free(st->shards);
    free(st->tensors);
    free(st->tensor_shard);
    free(st->names);
    free(st);
}

/* Opens the n files paths[] as the shards of one checkpoint. */
static silt_safetensors *open_files(char *const *paths, int n, char **err) {
    silt_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->shards = calloc((size_t)n, sizeof *st->shards))) {
        free(st);
        silt_err(err, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        st->n_shards = i + 1;
        if (map_file(paths[i], &st->shards[i], err) != 0 || parse_shard(st, i, err) != 0) {
            silt_safetensors_close(st);
            return NULL;
        }
    }
    if (finish(st, err) != 0) {
        silt_safetensors_close(st);
        return NULL;
    }
    return st;
}

silt_safetensors *silt_safetensors_open(const char *path, char **err) {
    char *p = (char *)path;
    return open_files(&p, 1, err);
}

/* Reads a whole small text file into a malloc'd NUL-terminated buffer. */
static char *read_small_file(const char *path, size_t max_bytes, char **err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        silt_err(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                silt_err(err, "out of memory");
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (n > max_bytes) {
            free(buf);
            fclose(f);
            silt_err(err, "%s is larger than %zu bytes", path, max_bytes);
            return NULL;
        }
        if (r < 4096) break;
    }
    fclose(f);
    buf[n] = 0;
    return buf;
}

silt_safetensors *silt_safetensors_open_dir(const char *dir, char **err) {
    char *single = NULL, *index = NULL;
    if (asprintf(&single, "%s/model.safetensors", dir) < 0) single = NULL;
    if (asprintf(&index, "%s/model.safetensors.index.json", dir) < 0) index = NULL;
    silt_safetensors *st = NULL;
    cJSON *root = NULL;
    char **paths = NULL;
    int n_paths = 0;
    if (!single || !index) {
        silt_err(err, "out of memory");
        goto done;
    }
    if (access(single, F_OK) == 0 || access(index, F_OK) != 0) {
        st = silt_safetensors_open(single, err);
        if (!st && access(single, F_OK) != 0) {
            /* Say why a directory with only PyTorch pickles is not enough. */
            char *bin = NULL;
            int has_bin = asprintf(&bin, "%s/pytorch_model.bin", dir) > 0 && access(bin, F_OK) == 0;
            free(bin);
            silt_err(err, "%s has no model.safetensors (or model.safetensors.index.json)%s", dir,
                     has_bin ? "; it only has pytorch_model.bin, which silt does not read: "
                               "convert it to safetensors" : "");
        }
        goto done;
    }
    char *text = read_small_file(index, 64u << 20, err);
    if (!text) goto done;
    root = cJSON_Parse(text);
    free(text);
    const cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        silt_err(err, "%s: expected a JSON object with a 'weight_map' object", index);
        goto done;
    }
    int n_entries = cJSON_GetArraySize(wm);
    paths = calloc((size_t)n_entries + 1, sizeof *paths);
    if (!paths) {
        silt_err(err, "out of memory");
        goto done;
    }
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->valuestring[0] || strchr(e->valuestring, '/') ||
            strcmp(e->valuestring, "..") == 0 || strcmp(e->valuestring, ".") == 0) {
            silt_err(err, "%s: weight_map['%s'] must be a file name in the same directory",
                     index, e->string);
            goto done;
        }
        int seen = 0;
        for (int i = 0; i < n_paths && !seen; i++) {
            const char *s = strrchr(paths[i], '/') + 1;
            seen = strcmp(s, e->valuestring) == 0;
        }
        if (seen) continue;
        if (asprintf(&paths[n_paths], "%s/%s", dir, e->valuestring) < 0) {
            paths[n_paths] = NULL;
            silt_err(err, "out of memory");
            goto done;
        }
        n_paths++;
    }
    if (n_paths == 0) {
        silt_err(err, "%s: weight_map is empty", index);
        goto done;
    }
    st = open_files(paths, n_paths, err);
    if (!st) goto done;
    for (const cJSON *e = wm->child; e; e = e->next) {
        const silt_st_tensor *t = silt_safetensors_find(st, e->string);
        int shard = t ? st->tensor_shard[t - st->tensors] : -1;
        if (!t || strcmp(st->shards[shard].file_name, e->valuestring) != 0) {
            silt_err(err, "%s lists tensor '%s' in %s, which does not hold it", index, e->string,
                     e->valuestring);
            silt_safetensors_close(st);
            st = NULL;
            goto done;
        }
    }
done:
    if (paths)
        for (int i = 0; i < n_paths; i++) free(paths[i]);
    free(paths);
    cJSON_Delete(root);
    free(single);
    free(index);
    return st;
}

int silt_safetensors_count(const silt_safetensors *st) { return st->n_tensors; }

const silt_st_tensor *silt_safetensors_at(const silt_safetensors *st, int i) {
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

const silt_st_tensor *silt_safetensors_find(const silt_safetensors *st, const char *name) {
    int lo = 0, hi = st->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->tensors[mid].name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

int silt_st_tensor_to_f32(const silt_st_tensor *t, float *out, char **err) {
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case SILT_ST_F32:
        memcpy(out, p, t->n_bytes);
        return 0;
    case SILT_ST_F16:
        for (uint64_t i = 0; i < t->n_elems; i++) out[i] = silt_half_to_f32(silt_le16(p + 2 * i));
        return 0;
    case SILT_ST_BF16:
        for (uint64_t i = 0; i < t->n_elems; i++) out[i] = silt_bf16_to_f32(silt_le16(p + 2 * i));
        return 0;
    default:
        return silt_err(err, "tensor '%s' has dtype %s; expected F32, F16 or BF16", t->name,
                        silt_st_dtype_name(t->dtype));
    }
}
