/* reader.h: the interface of the format readers (CSV/TSV in csv_reader.c, JSON Lines in
 * jsonl_reader.c). A reader is pushed the decoded bytes of a file in chunks of any size and
 * appends complete records to its silt_rows; it never holds more than the record under
 * construction besides what the caller has not cleared yet. Errors name the input line. */
#ifndef SILT_INGEST_READER_H
#define SILT_INGEST_READER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/rows.h"

typedef struct silt_reader silt_reader;
struct silt_reader {
    /* Parses n_bytes more input. 0, or -1 with *err set (core/err.h). */
    int (*feed)(silt_reader *rd, const char *data, size_t n_bytes, char **err);
    /* End of input: ends the last record. 0, or -1 with *err set. */
    int (*finish)(silt_reader *rd, char **err);
    void (*destroy)(silt_reader *rd);
    silt_rows *rows; /* where records go (not owned) */
    /* JSON Lines only: the keys seen so far, in first-seen order; field j of a record is
     * the value of keys[j]. NULL for delimited files. Owned by the reader. */
    char **keys;
    size_t n_keys;
};

static inline void silt_reader_free(silt_reader *rd) {
    if (rd) rd->destroy(rd);
}

/* Longest record a reader accepts before failing (an unterminated quote would otherwise
 * pull the rest of the file into memory). */
#define SILT_READER_MAX_RECORD_BYTES ((size_t)256 << 20)

#endif
