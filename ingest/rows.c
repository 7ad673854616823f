/* rows.c: the batch of parsed records between readers and the table writer (see rows.h). */
#include "ingest/rows.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ingest/slab.h"

void silt_rows_init(silt_rows *r) {
    memset(r, 0, sizeof *r);
    r->cur_line = 1;
}

/* Buffers of at least BIG_BYTES come from huge-page slabs (slab.h), the rest from malloc.
 * Why: the sample batch holds every record of a small file (20,000 records of a 3 MB CSV
 * are ~7 MB of fields and text), and every 4 KiB page of it is first touched by a page
 * fault. On the VM this was measured on a fault costs ~15 us, so the faults took ~35 ms of
 * a 3 MB load, more than parsing it; a 2 MiB page takes one fault instead of 512. Where
 * huge pages are unavailable (THP "never", a kernel without it) the slabs behave like
 * malloc'd memory.
 *
 * Where a buffer lives follows from its capacity alone (cap * elem_bytes >= BIG_BYTES), so
 * no flag has to travel with it: capacities only grow, and every buffer is allocated and
 * released here. */
#define BIG_BYTES ((size_t)64 << 10)
#define HUGE_BYTES ((size_t)2 << 20)

static size_t map_bytes(size_t bytes) { return (bytes + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1); }

/* A zeroed 2 MiB-aligned huge-page mapping of map_bytes(bytes), or NULL (silt_big_alloc). */
static void *map_big(size_t bytes) {
    size_t n = map_bytes(bytes);
    return n < bytes ? NULL : silt_map_huge(n, HUGE_BYTES);
}

static void buf_free(void *buf, size_t cap, size_t elem_bytes) {
    if (!buf) return;
    if (cap * elem_bytes >= BIG_BYTES) silt_slab_free(buf);
    else free(buf);
}

/* Zeroed, so a mapping of its own rather than slab memory, which would need a memset. */
void *silt_big_alloc(size_t n) {
    if (n == 0) n = 1;
    return n >= BIG_BYTES ? map_big(n) : calloc(1, n); /* fresh mappings are zeroed */
}

void silt_big_free(void *p, size_t n) {
    if (!p) return;
    if (n == 0) n = 1;
    if (n >= BIG_BYTES) munmap(p, map_bytes(n));
    else free(p);
}

void silt_rows_free(silt_rows *r) {
    buf_free(r->arena, r->arena_cap, 1);
    buf_free(r->fields, r->fields_cap, sizeof *r->fields);
    buf_free(r->rows, r->rows_cap, sizeof *r->rows);
    silt_rows_init(r);
}

/* Grows *buf (of *cap elements of elem_bytes, the first used of them in use) to hold at
 * least need elements: to a power of two (growing by doubling), or, for a reservation
 * (exact), to need and an eighth more; 0 or -1. */
static int grow_to(void **buf, size_t *cap, size_t used, size_t need, size_t elem_bytes, int exact) {
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 64;
    if (exact) {
        if (need > SIZE_MAX / 2 / elem_bytes) return -1;
        cap2 = need + need / 8;
    }
    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2 / elem_bytes) return -1;
        cap2 *= 2;
    }
    size_t old_bytes = *cap * elem_bytes, new_bytes = cap2 * elem_bytes;
    void *p;
    if (new_bytes < BIG_BYTES) {
        p = realloc(*buf, new_bytes);
        if (!p) return -1;
    } else if (old_bytes >= BIG_BYTES) {
        p = silt_slab_grow(*buf, old_bytes, used * elem_bytes, new_bytes);
        if (!p) return -1;
    } else {
        p = silt_slab_alloc(new_bytes);
        if (!p) return -1;
        if (used) memcpy(p, *buf, used * elem_bytes);
        free(*buf);
    }
    *buf = p;
    *cap = cap2;
    return 0;
}

static int grow(void **buf, size_t *cap, size_t used, size_t need, size_t elem_bytes) {
    return grow_to(buf, cap, used, need, elem_bytes, 0);
}

static silt_field *new_field(silt_rows *r) {
    if (r->n_fields == r->fields_cap &&
        grow((void **)&r->fields, &r->fields_cap, r->n_fields, r->n_fields + 1, sizeof *r->fields))
        return NULL;
    return &r->fields[r->n_fields++];
}

int silt_rows_add_text(silt_rows *r, silt_val_kind kind, const char *s, size_t n_bytes) {
    if (n_bytes > UINT32_MAX - 1) return -1;
    size_t need = r->arena_bytes + n_bytes + 1;
    if (need > r->arena_cap && grow((void **)&r->arena, &r->arena_cap, r->arena_bytes, need, 1)) return -1;
    silt_field *f = new_field(r);
    if (!f) return -1;
    *f = (silt_field){.off = r->arena_bytes, .n_bytes = (uint32_t)n_bytes, .kind = (uint8_t)kind};
    if (n_bytes) memcpy(r->arena + r->arena_bytes, s, n_bytes);
    r->arena[r->arena_bytes + n_bytes] = 0;
    r->arena_bytes = need;
    return 0;
}

int silt_rows_add_int(silt_rows *r, int64_t v) {
    silt_field *f = new_field(r);
    if (!f) return -1;
    *f = (silt_field){.v.i = v, .kind = SILT_VAL_INT};
    return 0;
}

int silt_rows_add_real(silt_rows *r, double v) {
    silt_field *f = new_field(r);
    if (!f) return -1;
    *f = (silt_field){.v.d = v, .kind = SILT_VAL_REAL};
    return 0;
}

int silt_rows_add_null(silt_rows *r) {
    silt_field *f = new_field(r);
    if (!f) return -1;
    *f = (silt_field){.kind = SILT_VAL_NULL};
    return 0;
}

int silt_rows_end(silt_rows *r, int64_t next_line) {
    if (r->n_rows == r->rows_cap &&
        grow((void **)&r->rows, &r->rows_cap, r->n_rows, r->n_rows + 1, sizeof *r->rows))
        return -1;
    silt_row *row = &r->rows[r->n_rows++];
    row->first_field = r->cur_field;
    row->first_byte = r->cur_arena;
    row->n_fields = (uint32_t)(r->n_fields - r->cur_field);
    row->line = r->cur_line;
    r->cur_field = r->n_fields;
    r->cur_arena = r->arena_bytes;
    r->cur_line = next_line;
    return 0;
}

void silt_rows_drop(silt_rows *r, size_t n) {
    if (n > r->n_rows) n = r->n_rows;
    if (n == 0) return;
    size_t f0 = n < r->n_rows ? r->rows[n].first_field : r->cur_field;
    size_t b0 = n < r->n_rows ? r->rows[n].first_byte : r->cur_arena;
    size_t keep_fields = r->n_fields - f0;
    size_t keep_bytes = r->arena_bytes - b0;
    if (keep_fields) {
        memmove(r->fields, r->fields + f0, keep_fields * sizeof *r->fields);
        for (size_t j = 0; j < keep_fields; j++) {
            uint32_t k = r->fields[j].kind;
            if (k == SILT_VAL_RAW || k == SILT_VAL_TEXT || k == SILT_VAL_JSON)
                r->fields[j].off -= b0;
        }
    }
    if (keep_bytes) memmove(r->arena, r->arena + b0, keep_bytes);
    size_t keep_rows = r->n_rows - n;
    if (keep_rows) memmove(r->rows, r->rows + n, keep_rows * sizeof *r->rows);
    for (size_t i = 0; i < keep_rows; i++) {
        r->rows[i].first_field -= f0;
        r->rows[i].first_byte -= b0;
    }
    r->n_fields = keep_fields;
    r->arena_bytes = keep_bytes;
    r->cur_field -= f0;
    r->cur_arena -= b0;
    r->n_rows = keep_rows;
}

/* A reservation is an estimate (a sample part's size from the part before it), so it gets
 * an eighth more, not the next power of two: the buffers of the sample's parts are carved one
 * after the other from the same huge pages, and rounding them up left a 3 MB file's load
 * zeroing 12 huge pages for ~6.5 of records: 10 with this, 8 with the first part sized from
 * the input (pipeline.c; bench/README.md, ingest, session 9). A part that outgrows its
 * estimate doubles from there, as before. */
int silt_rows_reserve(silt_rows *r, size_t n_rows, size_t n_fields, size_t n_bytes) {
    if (grow_to((void **)&r->rows, &r->rows_cap, r->n_rows, n_rows, sizeof *r->rows, 1) ||
        grow_to((void **)&r->fields, &r->fields_cap, r->n_fields, n_fields, sizeof *r->fields, 1) ||
        grow_to((void **)&r->arena, &r->arena_cap, r->arena_bytes, n_bytes, 1, 1))
        return -1;
    return 0;
}

int silt_rows_move_partial(silt_rows *dst, silt_rows *src) {
    size_t n_fields = src->n_fields - src->cur_field;
    size_t n_bytes = src->arena_bytes - src->cur_arena;
    if (grow((void **)&dst->fields, &dst->fields_cap, dst->n_fields, n_fields, sizeof *dst->fields) ||
        grow((void **)&dst->arena, &dst->arena_cap, dst->arena_bytes, n_bytes, 1))
        return -1;
    for (size_t j = 0; j < n_fields; j++) {
        silt_field f = src->fields[src->cur_field + j];
        if (f.kind == SILT_VAL_RAW || f.kind == SILT_VAL_TEXT || f.kind == SILT_VAL_JSON)
            f.off -= src->cur_arena;
        dst->fields[j] = f;
    }
    if (n_bytes) memcpy(dst->arena, src->arena + src->cur_arena, n_bytes);
    dst->n_fields = n_fields;
    dst->arena_bytes = n_bytes;
    dst->cur_field = 0;
    dst->cur_arena = 0;
    dst->cur_line = src->cur_line;
    src->n_fields = src->cur_field;
    src->arena_bytes = src->cur_arena;
    return 0;
}
