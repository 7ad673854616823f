/* options.h: the options object of silt_ingest / silt_ingest_dir, parsed from JSON text.
 *
 *   SELECT silt_ingest('https://x/y.tsv', 'y',
 *     '{"format":"tsv", "header":true, "if_exists":"replace",
 *       "types":{"zip":"TEXT"}, "timeout_ms":60000}');
 *
 * Keys: format (csv|tsv|jsonl; default from the file name, then the Content-Type, then the
 * content), header (auto|true|false), delimiter (one character), quote (one character, or ""
 * for none; default '"' for csv, none for tsv), if_exists (fail|replace|append), types
 * (object column -> INTEGER|REAL|TEXT|NUMERIC|BLOB), max_bytes, timeout_ms,
 * connect_timeout_ms, max_redirects, infer_rows (records sampled before the table is
 * created), early_rows (records the schema is first guessed from, so that inserting starts
 * before the sample is complete; 0 waits for the whole sample; the table is the same either
 * way), force (reload even when the source did not change), progress (auto|true|false).
 * An unknown key or a bad value is an error naming it. */
#ifndef SILT_INGEST_OPTIONS_H
#define SILT_INGEST_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/infer.h"

typedef enum silt_format { SILT_FMT_AUTO, SILT_FMT_CSV, SILT_FMT_TSV, SILT_FMT_JSONL } silt_format;
typedef enum silt_if_exists { SILT_IFX_FAIL, SILT_IFX_REPLACE, SILT_IFX_APPEND } silt_if_exists;

/* Tri-state for header and progress. */
#define SILT_OPT_AUTO (-1)
/* quote left to the format's default. */
#define SILT_QUOTE_DEFAULT (-2)

#define SILT_INGEST_DEFAULT_INFER_ROWS 20000
#define SILT_INGEST_DEFAULT_EARLY_ROWS 1000
#define SILT_INGEST_DEFAULT_CONNECT_TIMEOUT_MS 30000
#define SILT_INGEST_DEFAULT_MAX_REDIRECTS 10

typedef struct silt_ingest_opts {
    silt_format format;
    int header;              /* SILT_OPT_AUTO, 0 or 1 */
    int delimiter;           /* a byte, or -1 for the format's default */
    int quote;               /* a byte, SILT_CSV_NO_QUOTE, or SILT_QUOTE_DEFAULT */
    silt_if_exists if_exists;
    char **type_cols;        /* "types": column names (malloc'd) ... */
    silt_coltype *type_vals; /* ... and their types */
    size_t n_types;
    int64_t max_bytes;       /* 0 = no limit */
    long timeout_ms;         /* 0 = no limit */
    long connect_timeout_ms;
    long max_redirects;
    int64_t infer_rows;      /* records sampled for header and types */
    int64_t early_rows;      /* records of the first guess (0: none) */
    int force;               /* reload even when unchanged */
    int progress;            /* SILT_OPT_AUTO (when stderr is a terminal), 0 or 1 */
} silt_ingest_opts;

void silt_ingest_opts_default(silt_ingest_opts *o);
/* Parses json (NULL or "" = defaults) over the defaults. 0, or -1 with *err set; o must be
 * freed with silt_ingest_opts_free either way. */
int silt_ingest_opts_parse(const char *json, silt_ingest_opts *o, char **err);
void silt_ingest_opts_free(silt_ingest_opts *o);

#endif
