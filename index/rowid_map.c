/* rowid_map.c: open-addressing hash map of int64 -> int64 (see rowid_map.h). */
#include "index/rowid_map.h"

#include <stdlib.h>
#include <string.h>

/* Rowids are often sequential: a multiplicative mix spreads them over the table. */
static size_t slot_of(int64_t key, size_t cap) {
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (size_t)h & (cap - 1);
}

static int rehash(silt_rowid_map *m, size_t new_cap) {
    int64_t *keys = malloc(new_cap * sizeof *keys);
    int64_t *vals = malloc(new_cap * sizeof *vals);
    uint8_t *used = calloc(new_cap, 1);
    if (!keys || !vals || !used) {
        free(keys), free(vals), free(used);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->used[i]) continue;
        size_t j = slot_of(m->keys[i], new_cap);
        while (used[j]) j = (j + 1) & (new_cap - 1);
        used[j] = 1;
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys), free(m->vals), free(m->used);
    m->keys = keys, m->vals = vals, m->used = used, m->cap = new_cap;
    return 0;
}

int silt_rowid_map_reserve(silt_rowid_map *m, size_t n) {
    size_t cap = m->cap ? m->cap : 16;
    while (cap / 4 * 3 < n) {
        if (cap > SIZE_MAX / 4) return -1;
        cap *= 2;
    }
    return cap == m->cap ? 0 : rehash(m, cap);
}

int silt_rowid_map_put(silt_rowid_map *m, int64_t key, int64_t val) {
    /* Overwriting never allocates (callers rely on it after a reserve). */
    if (m->cap) {
        size_t j = slot_of(key, m->cap);
        for (; m->used[j]; j = (j + 1) & (m->cap - 1))
            if (m->keys[j] == key) {
                m->vals[j] = val;
                return 0;
            }
    }
    if (silt_rowid_map_reserve(m, m->count + 1)) return -1;
    size_t j = slot_of(key, m->cap);
    while (m->used[j]) j = (j + 1) & (m->cap - 1);
    m->used[j] = 1;
    m->keys[j] = key;
    m->vals[j] = val;
    m->count++;
    return 0;
}

int silt_rowid_map_get(const silt_rowid_map *m, int64_t key, int64_t *val) {
    if (!m->cap) return 0;
    size_t j = slot_of(key, m->cap);
    while (m->used[j]) {
        if (m->keys[j] == key) {
            if (val) *val = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

int silt_rowid_map_del(silt_rowid_map *m, int64_t key) {
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, j = slot_of(key, m->cap);
    while (m->used[j] && m->keys[j] != key) j = (j + 1) & mask;
    if (!m->used[j]) return 0;
    /* Backward shift: move later entries of the probe run into the hole when their home
     * slot does not lie (cyclically) between the hole and their position. */
    size_t hole = j, i = j;
    for (;;) {
        i = (i + 1) & mask;
        if (!m->used[i]) break;
        size_t home = slot_of(m->keys[i], m->cap);
        int in_between = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (in_between) continue;
        m->keys[hole] = m->keys[i];
        m->vals[hole] = m->vals[i];
        hole = i;
    }
    m->used[hole] = 0;
    m->count--;
    return 1;
}

void silt_rowid_map_clear(silt_rowid_map *m) {
    if (m->used) memset(m->used, 0, m->cap);
    m->count = 0;
}

void silt_rowid_map_free(silt_rowid_map *m) {
    free(m->keys), free(m->vals), free(m->used);
    memset(m, 0, sizeof *m);
}
