/* colset.c: value hashes, exact overlap and the DeepJoin column text (see colset.h). */
#include "index/colset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t silt_colset_hash(const char *s, size_t len) {
    /* FNV-1a, then a splitmix64 finaliser so that short, similar strings spread well. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    int64_t out;
    memcpy(&out, &h, sizeof out);
    return out;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

size_t silt_colset_unique(int64_t *h, size_t n) {
    if (n == 0) return 0;
    qsort(h, n, sizeof *h, cmp_i64);
    size_t o = 1;
    for (size_t i = 1; i < n; i++)
        if (h[i] != h[o - 1]) h[o++] = h[i];
    return o;
}

size_t silt_colset_overlap(const int64_t *a, size_t na, const int64_t *b, size_t nb) {
    size_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) i++;
        else if (a[i] > b[j]) j++;
        else n++, i++, j++;
    }
    return n;
}

char *silt_colset_text(const char *title, const char *column, const char *const *values,
                       const size_t *lens, size_t n, size_t max_bytes) {
    size_t max_len = 0, min_len = n ? (size_t)-1 : 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > max_len) max_len = lens[i];
        if (lens[i] < min_len) min_len = lens[i];
        sum += lens[i];
    }
    char head[512];
    int hn = snprintf(head, sizeof head, "%.200s. %.200s contains %zu values (%zu, %zu, %.1f):",
                      title, column, n, max_len, min_len, n ? (double)sum / (double)n : 0.0);
    if (hn < 0) return NULL;
    size_t cap = (size_t)hn + max_bytes + 4, o = (size_t)hn;
    char *s = malloc(cap);
    if (!s) return NULL;
    memcpy(s, head, (size_t)hn);
    for (size_t i = 0; i < n; i++) {
        size_t need = lens[i] + (i ? 2 : 1);
        if (o + need > (size_t)hn + max_bytes) break;
        s[o++] = i ? ',' : ' ';
        if (i) s[o++] = ' ';
        memcpy(s + o, values[i], lens[i]);
        o += lens[i];
    }
    s[o] = 0;
    return s;
}
