/* pipeline.h: one file from URL to records: download (fetch.h) -> gzip decoding when the
 * data starts with the gzip magic number (gunzip.h) -> format detection -> reader
 * (csv_reader.h, jsonl_reader.h) -> batches of records handed to a consumer.
 *
 * Two threads: a producer thread downloads, hashes, decompresses and parses; the calling
 * thread runs the consumer (which writes to SQLite, so it must stay on the caller's thread).
 * After the sample, batches go through a queue of three buffers, so memory stays bounded (a
 * batch holds at most BATCH_ROWS records or a few MiB).
 *
 * The sample: the first sample_rows + 1 records, cut at the first chunk of input that
 * brings it over sample_rows records or 32 MiB of text, or the whole input when shorter.
 * It reaches the consumer in parts: a first part of about early_rows records (so that the
 * consumer can start on a guess while the rest is parsed), then parts of a few thousand
 * records, the last one flagged sample_end. Every part stays valid, uncleared, until the
 * consumer's callback for the sample_end part returns, so the consumer can go back over
 * the whole sample.
 *
 * The format is the "format" option if given, else the file name's extension (.csv, .tsv,
 * .tab, .jsonl, .ndjson, .json; a trailing .gz ignored), else the Content-Type
 * (text/csv, text/tab-separated-values, application/x-ndjson, application/jsonl...), else
 * the content: '{' first means JSON Lines, more tabs than commas in the first line TSV,
 * otherwise CSV. Nothing here touches SQLite. */
#ifndef SILT_INGEST_PIPELINE_H
#define SILT_INGEST_PIPELINE_H

#include <stdint.h>

#include "ingest/fetch.h"
#include "ingest/infer.h"
#include "ingest/options.h"
#include "ingest/reader.h"

/* Records handed to the consumer. */
typedef struct silt_batch {
    silt_rows rows;      /* finished records (the consumer reads them; the pipeline clears) */
    /* The fields of a delimited file come classified (silt_infer_classify_rows: the class
     * and number of every RAW field stored in it), by the producer thread or, when the
     * consumer was waiting for the batch, by the pipeline on the consumer's thread before
     * the batch is handed to it. */
    int classified;
    char **keys;         /* JSON Lines: the column keys known when the batch was handed over
                            (the strings belong to the reader and live until the run ends) */
    size_t n_keys;       /* entries of keys */
    size_t keys_cap;     /* allocated entries of keys */
    int64_t n_bytes_in;  /* bytes downloaded when the batch was handed over */
    silt_format format;  /* format of the file */
    /* The sample's last part may hold records after the sample. */
    int sample_part;        /* the batch is (or ends with) part of the sample */
    int sample_end;         /* the batch completes the sample */
    size_t sample_records;  /* records handed over in sample parts so far, these included */
    struct silt_batch *next; /* the pipeline's own list link */
} silt_batch;

typedef struct silt_pipeline_consumer {
    /* Response headers known (see silt_fetch_sink.begin): 0 go on, 1 stop quietly, -1 fail.
     * Runs on the producer thread: it may only read state the consumer does not change
     * during the run. May be NULL. */
    int (*begin)(void *ctx, const silt_fetch_info *info, char **err);
    /* A batch of records, on the calling thread; the consumer must take them all. final = 1
     * once, after the last batch (with an empty batch). 0, or -1 with *err set. */
    int (*records)(void *ctx, const silt_batch *b, int final, char **err);
    /* Called on the calling thread about ten times a second while waiting for the producer
     * (e.g. to notice an interrupt). 0, or -1 with *err set to abort. May be NULL. */
    int (*tick)(void *ctx, char **err);
    /* Work for the calling thread while the first records are still being downloaded and
     * parsed (setup that need not come before the download starts, warming memory), in
     * steps: called with last = 0 right after the producer starts and again while it
     * returns 1 and no batch has come, then once with last = 1 before the first batch is
     * handed over. 0 (or 1), or -1 with *err set to abort. May be NULL. */
    int (*idle)(void *ctx, int last, char **err);
    void *ctx;
    int64_t sample_rows; /* records of the sample (see above) */
    int64_t early_rows;  /* records of the first sample part (0: the sample in one part) */
} silt_pipeline_consumer;

/* Runs the pipeline for url (normalised by silt_fetch_normalize_url). hash_only: only
 * download and hash (info->sha256), no parsing; records is not called. if_none_match /
 * if_modified_since (may be NULL) make an http request conditional. Returns 0 (info filled,
 * even when not_modified or stopped) or -1 with *err set. info must be freed either way. */
int silt_pipeline_run(const char *url, const silt_ingest_opts *opts, int hash_only,
                      const char *if_none_match, const char *if_modified_since,
                      const silt_pipeline_consumer *consumer, silt_fetch_info *info, char **err);

/* The format implied by a file name or URL ("x.csv.gz" -> CSV), or SILT_FMT_AUTO. */
silt_format silt_pipeline_format_from_name(const char *name);

#endif
