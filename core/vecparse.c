/* vecparse.c: float32 vectors from and to JSON, and BLOB checks (see vecparse.h). */
#include "core/vecparse.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

int silt_vec_from_json(const char *text, size_t len, float **out, int *dim, char **err) {
    *out = NULL;
    *dim = 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return silt_err(err, "not a JSON array of numbers (JSON syntax error)");
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return silt_err(err, "expected a JSON array of numbers");
    }
    int n = cJSON_GetArraySize(root);
    if (n == 0) {
        cJSON_Delete(root);
        return silt_err(err, "empty vector: a vector needs at least one element");
    }
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) {
        cJSON_Delete(root);
        return silt_err(err, "out of memory for a %d-element vector", n);
    }
    int i = 0;
    for (cJSON *e = root->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e)) {
            free(v);
            cJSON_Delete(root);
            return silt_err(err, "element %d is not a number", i);
        }
        float f = (float)e->valuedouble;
        if (!isfinite(f)) {
            double d = e->valuedouble;
            free(v);
            cJSON_Delete(root);
            return silt_err(err, "element %d (%g) is not a finite float32 value", i, d);
        }
        v[i] = f;
    }
    cJSON_Delete(root);
    *out = v;
    *dim = n;
    return 0;
}

int silt_vec_check_blob(const void *blob, size_t n_bytes, int *dim, char **err) {
    if (n_bytes == 0) return silt_err(err, "empty vector: a vector needs at least one element");
    if (n_bytes % 4)
        return silt_err(err, "BLOB of %llu bytes is not a float32 vector (length not a multiple of 4)",
                        (unsigned long long)n_bytes);
    if (n_bytes / 4 > INT32_MAX) return silt_err(err, "vector too long");
    const unsigned char *p = blob;
    for (size_t i = 0; i < n_bytes / 4; i++) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        if (!isfinite(f))
            return silt_err(err, "element %llu is %s", (unsigned long long)i,
                            isnan(f) ? "NaN" : "infinite");
    }
    *dim = (int)(n_bytes / 4);
    return 0;
}

char *silt_vec_to_json(const float *v, int dim) {
    /* "-1.17549435e-38," is 16 characters: 18 per value is ample. */
    size_t cap = (size_t)dim * 18 + 3;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t o = 0;
    s[o++] = '[';
    for (int i = 0; i < dim; i++) {
        char buf[32];
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, (double)v[i]);
            if (strtof(buf, NULL) == v[i]) break;
        }
        size_t n = strlen(buf);
        if (i) s[o++] = ',';
        memcpy(s + o, buf, n);
        o += n;
    }
    s[o++] = ']';
    s[o] = 0;
    return s;
}
