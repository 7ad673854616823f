/* rows.h: a batch of parsed records, the hand-off between the format readers (CSV, JSON
 * Lines) and the table writer.
 *
 * Readers append fields to the record under construction and end it; the writer takes the
 * finished records and clears them. Field text lives in one arena, NUL-terminated (so it can
 * go to strtod), and is addressed by offset, so the arena may grow while records are being
 * read. Dropping records keeps the record under construction, whose first fields may
 * already be in the arena when a chunk of input ends in the middle of it. */
#ifndef SILT_INGEST_ROWS_H
#define SILT_INGEST_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* What a field holds. CSV gives only RAW text (its type is inferred later); JSON Lines give
 * typed values. */
typedef enum silt_val_kind {
    SILT_VAL_RAW,  /* text from a delimited file, type not yet known */
    SILT_VAL_NULL, /* missing value (JSON null or an absent key) */
    SILT_VAL_TEXT, /* text that stays text (a JSON string) */
    SILT_VAL_INT,  /* integer in .i (JSON integer or boolean) */
    SILT_VAL_REAL, /* floating-point number in .d */
    SILT_VAL_JSON, /* nested JSON object or array, as compact JSON text */
} silt_val_kind;

/* 24 bytes. A RAW field's class and number are kept in the field itself, where the parser
 * thread writes them (silt_infer_classify_rows) so that neither the statistics nor binding
 * on the inserting thread parse the text again: a separate array of them cost 16 bytes a
 * value more, and the sample of a small file holds every value (fresh memory, see rows.c). */
typedef struct silt_field {
    size_t off;       /* text offset in the arena (RAW, TEXT, JSON) */
    union {
        int64_t i;    /* INT; a RAW field of class INT */
        double d;     /* REAL; a RAW field of class REAL */
    } v;
    uint32_t n_bytes; /* text length (RAW, TEXT, JSON), without the NUL */
    uint8_t kind;     /* silt_val_kind */
    uint8_t cls;      /* RAW: 0 not classified yet, else 1 + its silt_valclass (infer.h) */
    uint16_t spare;
} silt_field;

typedef struct silt_row {
    size_t first_field; /* index of the record's first field in fields */
    size_t first_byte;  /* arena offset where the record's text starts */
    uint32_t n_fields;  /* fields in this record (readers may give fewer than the columns) */
    int64_t line;       /* 1-based line of the input where the record starts */
} silt_row;

typedef struct silt_rows {
    char *arena;         /* field text, NUL-terminated */
    size_t arena_bytes;  /* used */
    size_t arena_cap;    /* allocated */
    silt_field *fields;  /* every field of every record, in order */
    size_t n_fields;     /* used */
    size_t fields_cap;   /* allocated */
    silt_row *rows;      /* finished records */
    size_t n_rows;       /* used */
    size_t rows_cap;     /* allocated */
    size_t cur_field;    /* first field of the record under construction */
    size_t cur_arena;    /* arena offset where the record under construction starts */
    int64_t cur_line;    /* line where the record under construction starts */
} silt_rows;

void silt_rows_init(silt_rows *r);
void silt_rows_free(silt_rows *r);

/* Appends a field to the record under construction. Return 0, or -1 when out of memory. */
int silt_rows_add_text(silt_rows *r, silt_val_kind kind, const char *s, size_t n_bytes);
int silt_rows_add_int(silt_rows *r, int64_t v);
int silt_rows_add_real(silt_rows *r, double v);
int silt_rows_add_null(silt_rows *r);
/* Ends the record under construction (even with no fields); the next one starts at
 * next_line. Returns 0, or -1 when out of memory. */
int silt_rows_end(silt_rows *r, int64_t next_line);
/* Number of fields of the record under construction. */
static inline size_t silt_rows_cur_fields(const silt_rows *r) {
    return r->n_fields - r->cur_field;
}
/* Drops the first n finished records (all when n >= n_rows), keeping the others and the
 * one under construction. */
void silt_rows_drop(silt_rows *r, size_t n);
static inline void silt_rows_clear(silt_rows *r) { silt_rows_drop(r, r->n_rows); }
/* Moves the record under construction from src to dst, which must hold nothing (no
 * finished records, no fields). Returns 0, or -1 when out of memory (nothing moved). */
int silt_rows_move_partial(silt_rows *dst, silt_rows *src);

/* Makes room for n_rows finished records, n_fields fields and n_bytes of text in all, in
 * one step rather than by doubling (which touches every intermediate buffer). 0 or -1. */
int silt_rows_reserve(silt_rows *r, size_t n_rows, size_t n_fields, size_t n_bytes);

/* A zeroed buffer of n bytes (the hashing thread's blocks, hasher.c): from 64 KiB up a 2 MiB
 * aligned huge-page mapping of its own (see rows.c), below that calloc. silt_big_free takes
 * the same n. NULL when out of memory. */
void *silt_big_alloc(size_t n);
void silt_big_free(void *p, size_t n);

/* Field j of finished record i (NULL when the record has fewer fields). */
static inline const silt_field *silt_rows_field(const silt_rows *r, size_t i, size_t j) {
    const silt_row *row = &r->rows[i];
    return j < row->n_fields ? &r->fields[row->first_field + j] : NULL;
}
static inline const char *silt_rows_text(const silt_rows *r, const silt_field *f) {
    return r->arena + f->off;
}

#endif
