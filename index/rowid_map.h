/* rowid_map.h: a hash map from 64-bit rowids to 64-bit values (open addressing, linear
 * probing, backward-shift deletion), used for rowid -> FAISS slot and as a rowid set.
 *
 *   silt_rowid_map m = {0};
 *   silt_rowid_map_put(&m, 42, 7);
 *   int64_t slot;
 *   if (silt_rowid_map_get(&m, 42, &slot)) ...
 *   silt_rowid_map_free(&m);
 *
 * A zeroed struct is an empty map. Not thread-safe (one owner). */
#ifndef SILT_ROWID_MAP_H
#define SILT_ROWID_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t *keys;   /* cap entries */
    int64_t *vals;   /* cap entries */
    uint8_t *used;   /* cap flags: 1 when the entry holds a key */
    size_t cap;      /* power of two, or 0 */
    size_t count;    /* keys stored */
} silt_rowid_map;

/* Inserts or overwrites key. Returns 0, or -1 when out of memory (map unchanged). */
int silt_rowid_map_put(silt_rowid_map *m, int64_t key, int64_t val);
/* Returns 1 and sets *val (when val is not NULL) if key is present, else 0. */
int silt_rowid_map_get(const silt_rowid_map *m, int64_t key, int64_t *val);
/* Removes key; returns 1 if it was present. */
int silt_rowid_map_del(silt_rowid_map *m, int64_t key);
/* Makes room for n keys without rehashing. Returns 0 or -1 (out of memory). */
int silt_rowid_map_reserve(silt_rowid_map *m, size_t n);
void silt_rowid_map_clear(silt_rowid_map *m);
void silt_rowid_map_free(silt_rowid_map *m);

#endif
