/* options.c: parsing the ingest options object with cJSON (see options.h). */
#include "ingest/options.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "ingest/csv_reader.h"

void silt_ingest_opts_default(silt_ingest_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = SILT_FMT_AUTO;
    o->header = SILT_OPT_AUTO;
    o->delimiter = -1;
    o->quote = SILT_QUOTE_DEFAULT;
    o->if_exists = SILT_IFX_FAIL;
    o->connect_timeout_ms = SILT_INGEST_DEFAULT_CONNECT_TIMEOUT_MS;
    o->max_redirects = SILT_INGEST_DEFAULT_MAX_REDIRECTS;
    o->infer_rows = SILT_INGEST_DEFAULT_INFER_ROWS;
    o->early_rows = SILT_INGEST_DEFAULT_EARLY_ROWS;
    o->progress = SILT_OPT_AUTO;
}

void silt_ingest_opts_free(silt_ingest_opts *o) {
    for (size_t i = 0; i < o->n_types; i++) free(o->type_cols[i]);
    free(o->type_cols);
    free(o->type_vals);
    o->type_cols = NULL;
    o->type_vals = NULL;
    o->n_types = 0;
}

/* A non-negative integer option; max bounds it. */
static int get_count(const cJSON *v, const char *key, double max, int64_t *out, char **err) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble > max)
        return silt_err(err, "option %s: expected a non-negative integer up to %.0f", key, max);
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* "auto" | true | false (or "true"/"false"). */
static int get_tristate(const cJSON *v, const char *key, int *out, char **err) {
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (cJSON_IsString(v)) {
        if (!strcasecmp(v->valuestring, "auto")) *out = SILT_OPT_AUTO;
        else if (!strcasecmp(v->valuestring, "true")) *out = 1;
        else if (!strcasecmp(v->valuestring, "false")) *out = 0;
        else goto bad;
        return 0;
    }
bad:
    return silt_err(err, "option %s: expected \"auto\", true or false", key);
}

static int get_char(const cJSON *v, const char *key, int allow_empty, int *out, char **err) {
    if (cJSON_IsNull(v) && allow_empty) {
        *out = SILT_CSV_NO_QUOTE;
        return 0;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) > 1 ||
        (!allow_empty && strlen(v->valuestring) != 1))
        return silt_err(err, "option %s: expected a single character%s", key,
                        allow_empty ? " or \"\" for none" : "");
    unsigned char c = (unsigned char)v->valuestring[0];
    if (c == '\r' || c == '\n')
        return silt_err(err, "option %s: CR and LF cannot be used", key);
    *out = c ? c : SILT_CSV_NO_QUOTE;
    return 0;
}

static int parse_types(const cJSON *v, silt_ingest_opts *o, char **err) {
    if (!cJSON_IsObject(v))
        return silt_err(err, "option types: expected an object {\"column\": \"TEXT\", ...}");
    size_t n = (size_t)cJSON_GetArraySize(v);
    o->type_cols = calloc(n ? n : 1, sizeof *o->type_cols);
    o->type_vals = calloc(n ? n : 1, sizeof *o->type_vals);
    if (!o->type_cols || !o->type_vals) return silt_err(err, "out of memory");
    for (const cJSON *c = v->child; c; c = c->next) {
        silt_coltype t;
        if (!cJSON_IsString(c) || silt_coltype_parse(c->valuestring, &t))
            return silt_err(err,
                            "option types: column \"%s\": expected INTEGER, REAL, TEXT, NUMERIC or BLOB",
                            c->string);
        o->type_cols[o->n_types] = strdup(c->string);
        if (!o->type_cols[o->n_types]) return silt_err(err, "out of memory");
        o->type_vals[o->n_types++] = t;
    }
    return 0;
}

static int parse_key(const cJSON *v, silt_ingest_opts *o, char **err) {
    const char *k = v->string;
    int64_t n;
    if (!strcmp(k, "format")) {
        const char *s = cJSON_IsString(v) ? v->valuestring : "";
        if (!strcasecmp(s, "csv")) o->format = SILT_FMT_CSV;
        else if (!strcasecmp(s, "tsv")) o->format = SILT_FMT_TSV;
        else if (!strcasecmp(s, "jsonl") || !strcasecmp(s, "ndjson")) o->format = SILT_FMT_JSONL;
        else if (!strcasecmp(s, "auto")) o->format = SILT_FMT_AUTO;
        else return silt_err(err, "option format: expected csv, tsv or jsonl, got '%s'", s);
        return 0;
    }
    if (!strcmp(k, "header")) return get_tristate(v, k, &o->header, err);
    if (!strcmp(k, "progress")) return get_tristate(v, k, &o->progress, err);
    if (!strcmp(k, "delimiter")) return get_char(v, k, 0, &o->delimiter, err);
    if (!strcmp(k, "quote")) return get_char(v, k, 1, &o->quote, err);
    if (!strcmp(k, "if_exists")) {
        const char *s = cJSON_IsString(v) ? v->valuestring : "";
        if (!strcmp(s, "fail")) o->if_exists = SILT_IFX_FAIL;
        else if (!strcmp(s, "replace")) o->if_exists = SILT_IFX_REPLACE;
        else if (!strcmp(s, "append")) o->if_exists = SILT_IFX_APPEND;
        else return silt_err(err, "option if_exists: expected fail, replace or append, got '%s'", s);
        return 0;
    }
    if (!strcmp(k, "types")) return parse_types(v, o, err);
    if (!strcmp(k, "force")) {
        if (!cJSON_IsBool(v)) return silt_err(err, "option force: expected true or false");
        o->force = cJSON_IsTrue(v);
        return 0;
    }
    if (!strcmp(k, "max_bytes")) {
        if (get_count(v, k, 9e15, &n, err)) return -1;
        o->max_bytes = n;
        return 0;
    }
    if (!strcmp(k, "infer_rows")) {
        if (get_count(v, k, 1e9, &n, err)) return -1;
        if (n < 1) return silt_err(err, "option infer_rows: expected at least 1");
        o->infer_rows = n;
        return 0;
    }
    if (!strcmp(k, "early_rows")) {
        if (get_count(v, k, 1e9, &n, err)) return -1;
        o->early_rows = n;
        return 0;
    }
    long *lp = !strcmp(k, "timeout_ms")           ? &o->timeout_ms
               : !strcmp(k, "connect_timeout_ms") ? &o->connect_timeout_ms
               : !strcmp(k, "max_redirects")      ? &o->max_redirects
                                                  : NULL;
    if (lp) {
        if (get_count(v, k, 2147483647.0, &n, err)) return -1;
        *lp = (long)n;
        return 0;
    }
    return silt_err(err,
                    "unknown option '%s' (expected format, header, delimiter, quote, if_exists, "
                    "types, max_bytes, timeout_ms, connect_timeout_ms, max_redirects, "
                    "infer_rows, early_rows, force, progress)",
                    k);
}

int silt_ingest_opts_parse(const char *json, silt_ingest_opts *o, char **err) {
    silt_ingest_opts_default(o);
    if (!json || !*json) return 0;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return silt_err(err, "options must be a JSON object, got '%.60s'", json);
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        for (const cJSON *d = root->child; d != c; d = d->next)
            if (!strcmp(d->string, c->string)) {
                silt_err(err, "option '%s' given twice", c->string);
                cJSON_Delete(root);
                return -1;
            }
        if (parse_key(c, o, err)) {
            cJSON_Delete(root);
            return -1;
        }
    }
    cJSON_Delete(root);
    return 0;
}
