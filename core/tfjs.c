/* tfjs.c: TensorFlow.js weightsManifest reader (see tfjs.h).
 *
 * Everything is validated before any tensor pointer is handed out: a model that loads is
 * internally consistent, and a damaged directory (missing or truncated shard, edited
 * model.json) fails with a message naming the file and what was expected. */
#include "core/tfjs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"

/* model.json of the largest graph models is a few MB; anything far beyond is not one. */
#define TFJS_MAX_JSON_BYTES ((size_t)256 << 20)
/* Sanity cap on the total weight bytes (the encoders we load are well below 4 GiB). */
#define TFJS_MAX_WEIGHT_BYTES ((size_t)8 << 30)

struct silt_tfjs_model {
    silt_tfjs_tensor *tensors; /* n_tensors entries, manifest order over all groups */
    int n_tensors;
    unsigned char *buf;        /* all groups' shards, concatenated group after group */
    size_t buf_bytes;
};

char *silt_tfjs_read_file(const char *path, size_t max_bytes, size_t *n_bytes, char **err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        silt_err(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        silt_err(err, "%s is not a regular file", path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        silt_err(err, "%s is %lld bytes, more than the %zu allowed", path,
                 (long long)st.st_size, max_bytes);
        return NULL;
    }
    const size_t n = (size_t)st.st_size;
    char *data = malloc(n + 1);
    if (!data) {
        fclose(f);
        silt_err(err, "out of memory reading %s (%zu bytes)", path, n);
        return NULL;
    }
    const size_t got = fread(data, 1, n, f);
    const int read_err = ferror(f);
    fclose(f);
    if (got != n || read_err) {
        free(data);
        silt_err(err, "cannot read %s: got %zu of %zu bytes", path, got, n);
        return NULL;
    }
    data[n] = '\0';
    if (n_bytes) *n_bytes = n;
    return data;
}

void silt_tfjs_close(silt_tfjs_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_tensors; i++) free(m->tensors[i].name);
    free(m->tensors);
    free(m->buf);
    free(m);
}

/* A shard path must stay inside the model directory: relative, no ".." component. */
static int shard_path_ok(const char *p) {
    if (!p[0] || p[0] == '/') return 0;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 2 && s[0] == '.' && s[1] == '.') return 0;
        if (!e) break;
        s = e + 1;
    }
    return 1;
}

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Fills t from one manifest entry {name, shape, dtype}. Returns 0, or -1 and *err. */
static int parse_entry(const cJSON *w, int gi, int wi, silt_tfjs_tensor *t, char **err) {
    if (!cJSON_IsObject(w))
        return silt_err(err, "weightsManifest[%d].weights[%d] is not an object", gi, wi);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(w, "name");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(w, "shape");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(w, "dtype");
    if (!cJSON_IsString(name) || !name->valuestring[0])
        return silt_err(err, "weightsManifest[%d].weights[%d] has no \"name\" string", gi, wi);
    const char *nm = name->valuestring;
    if (cJSON_GetObjectItemCaseSensitive(w, "quantization"))
        return silt_err(err, "weight '%s' is quantized, which is not supported", nm);
    if (!cJSON_IsString(dtype))
        return silt_err(err, "weight '%s' has no \"dtype\" string", nm);
    if (strcmp(dtype->valuestring, "float32") == 0)
        t->dtype = SILT_TFJS_FLOAT32;
    else if (strcmp(dtype->valuestring, "int32") == 0)
        t->dtype = SILT_TFJS_INT32;
    else
        return silt_err(err, "weight '%s' has dtype '%s', expected float32 or int32", nm,
                        dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return silt_err(err, "weight '%s' has no \"shape\" array", nm);
    const int rank = cJSON_GetArraySize(shape);
    if (rank > SILT_TFJS_MAX_RANK)
        return silt_err(err, "weight '%s' has rank %d, at most %d supported", nm, rank,
                        SILT_TFJS_MAX_RANK);
    t->rank = rank;
    size_t n = 1;
    for (int d = 0; d < rank; d++) {
        const cJSON *dim = cJSON_GetArrayItem(shape, d);
        if (!cJSON_IsNumber(dim) || dim->valuedouble < 0 || dim->valuedouble > 2147483647.0 ||
            dim->valuedouble != floor(dim->valuedouble))
            return silt_err(err, "weight '%s' shape[%d] is not a non-negative integer", nm, d);
        t->shape[d] = (int64_t)dim->valuedouble;
        if (t->shape[d] != 0 && n > TFJS_MAX_WEIGHT_BYTES / 4 / (size_t)t->shape[d])
            return silt_err(err, "weight '%s' is too large", nm);
        n *= (size_t)t->shape[d];
    }
    t->n_elems = n;
    t->group = gi;
    t->name = strdup(nm);
    if (!t->name) return silt_err(err, "out of memory");
    return 0;
}

/* Sizes of a group's shard files; checks that they exist, are regular files, and that their
 * total equals need_bytes. *sizes is malloc'd. */
static int stat_shards(const char *dir, const cJSON *paths, int gi, size_t need_bytes,
                       size_t **sizes, char **err) {
    const int n = cJSON_GetArraySize(paths);
    *sizes = calloc(n > 0 ? (size_t)n : 1, sizeof(size_t));
    if (!*sizes) return silt_err(err, "out of memory");
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(paths, i);
        if (!cJSON_IsString(p) || !shard_path_ok(p->valuestring))
            return silt_err(err,
                            "weightsManifest[%d].paths[%d] is not a relative file name inside "
                            "the model directory",
                            gi, i);
        char *full = join_path(dir, p->valuestring);
        if (!full) return silt_err(err, "out of memory");
        struct stat st;
        if (stat(full, &st) != 0) {
            silt_err(err, "missing weight shard %s: %s", full, strerror(errno));
            free(full);
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            silt_err(err, "weight shard %s is not a regular file", full);
            free(full);
            return -1;
        }
        free(full);
        (*sizes)[i] = (size_t)st.st_size;
        total += (size_t)st.st_size;
    }
    if (total != need_bytes)
        return silt_err(err,
                        "weight group %d: its %d shard files hold %zu bytes but the manifest's "
                        "weights need %zu bytes (truncated or wrong shard file?)",
                        gi, n, total, need_bytes);
    return 0;
}

/* Reads the group's shards back to back into dst (exactly the sizes stat_shards saw). */
static int read_shards(const char *dir, const cJSON *paths, const size_t *sizes,
                       unsigned char *dst, char **err) {
    const int n = cJSON_GetArraySize(paths);
    for (int i = 0; i < n; i++) {
        char *full = join_path(dir, cJSON_GetArrayItem(paths, i)->valuestring);
        if (!full) return silt_err(err, "out of memory");
        FILE *f = fopen(full, "rb");
        if (!f) {
            silt_err(err, "cannot open weight shard %s: %s", full, strerror(errno));
            free(full);
            return -1;
        }
        size_t got = sizes[i] ? fread(dst, 1, sizes[i], f) : 0;
        /* A shard that grew or shrank between stat and read is as bad as a wrong size. */
        int extra = fgetc(f);
        fclose(f);
        if (got != sizes[i] || extra != EOF) {
            silt_err(err, "weight shard %s changed size while being read", full);
            free(full);
            return -1;
        }
        free(full);
        dst += sizes[i];
    }
    return 0;
}

silt_tfjs_model *silt_tfjs_open(const char *dir, char **err) {
    char *json_path = join_path(dir, "model.json");
    if (!json_path) {
        silt_err(err, "out of memory");
        return NULL;
    }
    char *text = silt_tfjs_read_file(json_path, TFJS_MAX_JSON_BYTES, NULL, err);
    if (!text) {
        free(json_path);
        return NULL;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    silt_tfjs_model *m = calloc(1, sizeof *m);
    size_t *sizes = NULL;
    size_t *group_bytes = NULL;
    if (!m) {
        silt_err(err, "out of memory");
        goto fail;
    }
    if (!root) {
        silt_err(err, "%s is not valid JSON", json_path);
        goto fail;
    }
    const cJSON *man = cJSON_GetObjectItemCaseSensitive(root, "weightsManifest");
    if (!cJSON_IsArray(man) || cJSON_GetArraySize(man) == 0) {
        silt_err(err, "%s has no \"weightsManifest\" list", json_path);
        goto fail;
    }
    const int n_groups = cJSON_GetArraySize(man);
    int n_total = 0;
    for (int gi = 0; gi < n_groups; gi++) {
        const cJSON *g = cJSON_GetArrayItem(man, gi);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(g, "weights");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(g, "paths");
        if (!cJSON_IsObject(g) || !cJSON_IsArray(w) || !cJSON_IsArray(p)) {
            silt_err(err, "%s: weightsManifest[%d] needs \"paths\" and \"weights\" lists",
                     json_path, gi);
            goto fail;
        }
        n_total += cJSON_GetArraySize(w);
    }
    m->tensors = calloc(n_total > 0 ? (size_t)n_total : 1, sizeof *m->tensors);
    group_bytes = calloc(n_groups > 0 ? (size_t)n_groups : 1, sizeof *group_bytes);
    if (!m->tensors || !group_bytes) {
        silt_err(err, "out of memory");
        goto fail;
    }
    /* Pass 1: entries, offsets and per-group sizes. */
    size_t all_bytes = 0;
    for (int gi = 0; gi < n_groups; gi++) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(man, gi), "weights");
        size_t off = 0;
        for (int wi = 0; wi < cJSON_GetArraySize(w); wi++) {
            silt_tfjs_tensor *t = &m->tensors[m->n_tensors];
            if (parse_entry(cJSON_GetArrayItem(w, wi), gi, wi, t, err) != 0) {
                silt_err_prefix(err, "%s", json_path);
                goto fail;
            }
            m->n_tensors++;
            t->offset_bytes = off;
            off += t->n_elems * 4;
            if (off > TFJS_MAX_WEIGHT_BYTES) {
                silt_err(err, "%s: weights exceed %zu bytes", json_path, TFJS_MAX_WEIGHT_BYTES);
                goto fail;
            }
        }
        group_bytes[gi] = off;
        all_bytes += off;
        if (all_bytes > TFJS_MAX_WEIGHT_BYTES) {
            silt_err(err, "%s: weights exceed %zu bytes", json_path, TFJS_MAX_WEIGHT_BYTES);
            goto fail;
        }
    }
    for (int i = 0; i < m->n_tensors; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(m->tensors[i].name, m->tensors[j].name) == 0) {
                silt_err(err, "%s: weight name '%s' appears twice", json_path,
                         m->tensors[i].name);
                goto fail;
            }
    /* Pass 2: every shard present with the right total size before anything is allocated
     * (a manifest that lies about its shapes must not cost gigabytes), then read them. */
    for (int gi = 0; gi < n_groups; gi++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(man, gi), "paths");
        if (stat_shards(dir, p, gi, group_bytes[gi], &sizes, err) != 0) goto fail;
        free(sizes);
        sizes = NULL;
    }
    m->buf = malloc(all_bytes ? all_bytes : 1);
    if (!m->buf) {
        silt_err(err, "out of memory for %zu bytes of weights", all_bytes);
        goto fail;
    }
    m->buf_bytes = all_bytes;
    size_t base = 0;
    int first = 0;
    for (int gi = 0; gi < n_groups; gi++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(man, gi), "paths");
        if (stat_shards(dir, p, gi, group_bytes[gi], &sizes, err) != 0 ||
            read_shards(dir, p, sizes, m->buf + base, err) != 0)
            goto fail;
        free(sizes);
        sizes = NULL;
        for (; first < m->n_tensors && m->tensors[first].group == gi; first++)
            m->tensors[first].data = m->buf + base + m->tensors[first].offset_bytes;
        base += group_bytes[gi];
    }
    cJSON_Delete(root);
    free(group_bytes);
    free(json_path);
    return m;
fail:
    free(sizes);
    free(group_bytes);
    cJSON_Delete(root);
    free(json_path);
    silt_tfjs_close(m);
    return NULL;
}

int silt_tfjs_count(const silt_tfjs_model *m) { return m->n_tensors; }

const silt_tfjs_tensor *silt_tfjs_at(const silt_tfjs_model *m, int i) {
    return i >= 0 && i < m->n_tensors ? &m->tensors[i] : NULL;
}

const silt_tfjs_tensor *silt_tfjs_find(const silt_tfjs_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

/* Writes "[a, b, c]" for a shape into buf. */
static void shape_str(char *buf, size_t cap, int rank, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < rank && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, d ? ", %lld" : "%lld",
                                 (long long)shape[d]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

const float *silt_tfjs_floats(const silt_tfjs_model *m, const char *name, int rank,
                              const int64_t *shape, char **err) {
    const silt_tfjs_tensor *t = silt_tfjs_find(m, name);
    if (!t) {
        silt_err(err, "weight '%s' is missing from the manifest", name);
        return NULL;
    }
    if (t->dtype != SILT_TFJS_FLOAT32) {
        silt_err(err, "weight '%s' is int32, expected float32", name);
        return NULL;
    }
    int same = t->rank == rank;
    for (int d = 0; same && d < rank; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char want[128], got[128];
        shape_str(want, sizeof want, rank, shape);
        shape_str(got, sizeof got, t->rank, t->shape);
        silt_err(err, "weight '%s' has shape %s, expected %s", name, got, want);
        return NULL;
    }
    return t->data;
}

/* The single value of a one-element tensor of the given dtype. */
static const void *scalar(const silt_tfjs_model *m, const char *name, silt_tfjs_dtype dtype,
                          char **err) {
    const silt_tfjs_tensor *t = silt_tfjs_find(m, name);
    if (!t) {
        silt_err(err, "constant '%s' is missing from the manifest", name);
        return NULL;
    }
    if (t->dtype != dtype || t->n_elems != 1) {
        silt_err(err, "constant '%s' is not a single %s", name,
                 dtype == SILT_TFJS_FLOAT32 ? "float32" : "int32");
        return NULL;
    }
    return t->data;
}

int silt_tfjs_scalar_f32(const silt_tfjs_model *m, const char *name, float *out, char **err) {
    const void *p = scalar(m, name, SILT_TFJS_FLOAT32, err);
    if (!p) return -1;
    memcpy(out, p, sizeof *out);
    return 0;
}

int silt_tfjs_scalar_i32(const silt_tfjs_model *m, const char *name, int32_t *out, char **err) {
    const void *p = scalar(m, name, SILT_TFJS_INT32, err);
    if (!p) return -1;
    memcpy(out, p, sizeof *out);
    return 0;
}
