/* jsonl_reader.c: JSON Lines records through cJSON (see jsonl_reader.h).
 *
 * Input is cut into lines; a line is copied into a NUL-terminated buffer (cJSON needs the
 * terminator to reject trailing garbage) and parsed. Keys map to column numbers through a
 * small open-addressing hash table, so wide objects cost O(keys) per line. */
#include "ingest/jsonl_reader.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef struct jsonl_rd {
    silt_reader base;
    char *line;            /* current line (a prefix of it may come from an earlier chunk) */
    size_t line_bytes;     /* used */
    size_t line_cap;       /* allocated */
    int64_t line_no;       /* 1-based number of the current line */
    size_t *slots;         /* hash table: key index + 1, 0 = empty */
    size_t n_slots;        /* power of two */
    size_t keys_cap;       /* allocated entries of base.keys */
    const cJSON **vals;    /* per column: the value on the current line, or NULL */
    size_t vals_cap;       /* allocated entries of vals */
    int bom_checked;       /* the first line was checked for a BOM */
} jsonl_rd;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Index of key, adding it when new; -1 when out of memory. */
static long key_index(jsonl_rd *rd, const char *key) {
    if (rd->base.n_keys * 2 >= rd->n_slots) { /* keep the load under 1/2 */
        size_t n2 = rd->n_slots ? rd->n_slots * 2 : 64;
        size_t *s2 = calloc(n2, sizeof *s2);
        if (!s2) return -1;
        for (size_t k = 0; k < rd->base.n_keys; k++) {
            size_t h = (size_t)hash_str(rd->base.keys[k]) & (n2 - 1);
            while (s2[h]) h = (h + 1) & (n2 - 1);
            s2[h] = k + 1;
        }
        free(rd->slots);
        rd->slots = s2;
        rd->n_slots = n2;
    }
    size_t h = (size_t)hash_str(key) & (rd->n_slots - 1);
    while (rd->slots[h]) {
        size_t k = rd->slots[h] - 1;
        if (strcmp(rd->base.keys[k], key) == 0) return (long)k;
        h = (h + 1) & (rd->n_slots - 1);
    }
    if (rd->base.n_keys == rd->keys_cap) {
        size_t cap2 = rd->keys_cap ? rd->keys_cap * 2 : 16;
        char **k2 = realloc(rd->base.keys, cap2 * sizeof *k2);
        if (!k2) return -1;
        rd->base.keys = k2;
        rd->keys_cap = cap2;
    }
    char *copy = strdup(key);
    if (!copy) return -1;
    rd->base.keys[rd->base.n_keys] = copy;
    rd->slots[h] = ++rd->base.n_keys;
    return (long)(rd->base.n_keys - 1);
}

static int add_value(silt_rows *rows, const cJSON *v) {
    if (!v || cJSON_IsNull(v)) return silt_rows_add_null(rows);
    if (cJSON_IsTrue(v)) return silt_rows_add_int(rows, 1);
    if (cJSON_IsFalse(v)) return silt_rows_add_int(rows, 0);
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) return silt_rows_add_int(rows, (int64_t)d);
        return silt_rows_add_real(rows, d);
    }
    if (cJSON_IsString(v))
        return silt_rows_add_text(rows, SILT_VAL_TEXT, v->valuestring, strlen(v->valuestring));
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return -1;
    int rc = silt_rows_add_text(rows, SILT_VAL_JSON, s, strlen(s));
    cJSON_free(s);
    return rc;
}

/* Parses the NUL-terminated line rd->line (its '\n' removed) into one record. */
static int parse_line(jsonl_rd *rd, char **err) {
    char *s = rd->line;
    size_t n = rd->line_bytes;
    if (!rd->bom_checked) {
        rd->bom_checked = 1;
        if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, n -= 3;
    }
    if (n && s[n - 1] == '\r') s[--n] = 0;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
    if (i == n) return 0; /* blank line */
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithOpts(s, &end, 1);
    if (!obj) {
        size_t col = end && end >= s && end <= s + n ? (size_t)(end - s) + 1 : 1;
        int show = n < 60 ? (int)n : 60;
        return silt_err(err, "line %lld: malformed JSON at column %zu: '%.*s%s'", (long long)rd->line_no,
                        col, show, s, n > 60 ? "..." : "");
    }
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return silt_err(err, "line %lld: expected a JSON object, got another JSON value",
                        (long long)rd->line_no);
    }
    int rc = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        long k = key_index(rd, c->string ? c->string : "");
        if (k < 0) {
            rc = -1;
            break;
        }
        if ((size_t)k >= rd->vals_cap) {
            size_t cap2 = rd->vals_cap ? rd->vals_cap : 16;
            while (cap2 <= (size_t)k) cap2 *= 2;
            const cJSON **v2 = realloc(rd->vals, cap2 * sizeof *v2);
            if (!v2) {
                rc = -1;
                break;
            }
            memset(v2 + rd->vals_cap, 0, (cap2 - rd->vals_cap) * sizeof *v2);
            rd->vals = v2;
            rd->vals_cap = cap2;
        }
        rd->vals[k] = c;
    }
    silt_rows *rows = rd->base.rows;
    rows->cur_line = rd->line_no;
    for (size_t k = 0; rc == 0 && k < rd->base.n_keys; k++) {
        rc = add_value(rows, rd->vals[k]);
        rd->vals[k] = NULL;
    }
    if (rc == 0) rc = silt_rows_end(rows, rd->line_no + 1);
    cJSON_Delete(obj);
    if (rc) {
        for (size_t k = 0; k < rd->vals_cap; k++) rd->vals[k] = NULL;
        return silt_err(err, "out of memory reading JSON Lines");
    }
    return 0;
}

static int append_line(jsonl_rd *rd, const char *data, size_t n, char **err) {
    if (rd->line_bytes + n + 1 > rd->line_cap) {
        if (rd->line_bytes + n > SILT_READER_MAX_RECORD_BYTES)
            return silt_err(err, "line %lld: longer than %zu MiB", (long long)rd->line_no,
                            SILT_READER_MAX_RECORD_BYTES >> 20);
        size_t cap2 = rd->line_cap ? rd->line_cap : 4096;
        while (cap2 < rd->line_bytes + n + 1) cap2 *= 2;
        char *l2 = realloc(rd->line, cap2);
        if (!l2) return silt_err(err, "out of memory reading JSON Lines");
        rd->line = l2;
        rd->line_cap = cap2;
    }
    memcpy(rd->line + rd->line_bytes, data, n);
    rd->line_bytes += n;
    rd->line[rd->line_bytes] = 0;
    return 0;
}

static int jsonl_feed(silt_reader *base, const char *data, size_t n, char **err) {
    jsonl_rd *rd = (jsonl_rd *)base;
    const char *end = data + n;
    while (data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        size_t take = (size_t)((nl ? nl : end) - data);
        if (append_line(rd, data, take, err)) return -1;
        if (!nl) break;
        if (parse_line(rd, err)) return -1;
        rd->line_bytes = 0;
        rd->line_no++;
        data = nl + 1;
    }
    return 0;
}

static int jsonl_finish(silt_reader *base, char **err) {
    jsonl_rd *rd = (jsonl_rd *)base;
    if (rd->line_bytes == 0) return 0;
    if (append_line(rd, "", 0, err) || parse_line(rd, err)) return -1;
    rd->line_bytes = 0;
    return 0;
}

static void jsonl_destroy(silt_reader *base) {
    jsonl_rd *rd = (jsonl_rd *)base;
    for (size_t k = 0; k < base->n_keys; k++) free(base->keys[k]);
    free(base->keys);
    free(rd->slots);
    free(rd->vals);
    free(rd->line);
    free(rd);
}

silt_reader *silt_jsonl_reader_new(silt_rows *rows, char **err) {
    jsonl_rd *rd = calloc(1, sizeof *rd);
    if (!rd) {
        silt_err(err, "out of memory");
        return NULL;
    }
    rd->line_no = 1;
    rd->base.feed = jsonl_feed;
    rd->base.finish = jsonl_finish;
    rd->base.destroy = jsonl_destroy;
    rd->base.rows = rows;
    return &rd->base;
}
