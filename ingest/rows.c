/* rows.c: the batch of parsed records between readers and the table writer (see rows.h). */
#include "ingest/rows.h"

#include <stdlib.h>
#include <string.h>

void silt_rows_init(silt_rows *r) {
    memset(r, 0, sizeof *r);
    r->cur_line = 1;
}

void silt_rows_free(silt_rows *r) {
    free(r->arena);
    free(r->fields);
    free(r->rows);
    silt_rows_init(r);
}

/* Grows *buf (of *cap elements of elem_bytes) to hold at least need elements; 0 or -1. */
static int grow(void **buf, size_t *cap, size_t need, size_t elem_bytes) {
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2 / elem_bytes) return -1;
        cap2 *= 2;
    }
    void *p = realloc(*buf, cap2 * elem_bytes);
    if (!p) return -1;
    *buf = p;
    *cap = cap2;
    return 0;
}

static silt_field *new_field(silt_rows *r) {
    if (r->n_fields == r->fields_cap &&
        grow((void **)&r->fields, &r->fields_cap, r->n_fields + 1, sizeof *r->fields))
        return NULL;
    return &r->fields[r->n_fields++];
}

int silt_rows_add_text(silt_rows *r, silt_val_kind kind, const char *s, size_t n_bytes) {
    if (n_bytes > UINT32_MAX - 1) return -1;
    size_t need = r->arena_bytes + n_bytes + 1;
    if (need > r->arena_cap && grow((void **)&r->arena, &r->arena_cap, need, 1)) return -1;
    silt_field *f = new_field(r);
    if (!f) return -1;
    f->kind = kind;
    f->n_bytes = (uint32_t)n_bytes;
    f->u.off = r->arena_bytes;
    if (n_bytes) memcpy(r->arena + r->arena_bytes, s, n_bytes);
    r->arena[r->arena_bytes + n_bytes] = 0;
    r->arena_bytes = need;
    return 0;
}

int silt_rows_add_int(silt_rows *r, int64_t v) {
    silt_field *f = new_field(r);
    if (!f) return -1;
    f->kind = SILT_VAL_INT;
    f->n_bytes = 0;
    f->u.i = v;
    return 0;
}

int silt_rows_add_real(silt_rows *r, double v) {
    silt_field *f = new_field(r);
    if (!f) return -1;
    f->kind = SILT_VAL_REAL;
    f->n_bytes = 0;
    f->u.d = v;
    return 0;
}

int silt_rows_add_null(silt_rows *r) {
    silt_field *f = new_field(r);
    if (!f) return -1;
    f->kind = SILT_VAL_NULL;
    f->n_bytes = 0;
    f->u.i = 0;
    return 0;
}

int silt_rows_end(silt_rows *r, int64_t next_line) {
    if (r->n_rows == r->rows_cap &&
        grow((void **)&r->rows, &r->rows_cap, r->n_rows + 1, sizeof *r->rows))
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
                r->fields[j].u.off -= b0;
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

int silt_rows_move_partial(silt_rows *dst, silt_rows *src) {
    size_t n_fields = src->n_fields - src->cur_field;
    size_t n_bytes = src->arena_bytes - src->cur_arena;
    if (grow((void **)&dst->fields, &dst->fields_cap, n_fields, sizeof *dst->fields) ||
        grow((void **)&dst->arena, &dst->arena_cap, n_bytes, 1))
        return -1;
    for (size_t j = 0; j < n_fields; j++) {
        silt_field f = src->fields[src->cur_field + j];
        if (f.kind == SILT_VAL_RAW || f.kind == SILT_VAL_TEXT || f.kind == SILT_VAL_JSON)
            f.u.off -= src->cur_arena;
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
