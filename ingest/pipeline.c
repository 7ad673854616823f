/* pipeline.c: download -> gunzip -> format detection -> reader on a producer thread,
 * batches of records to the consumer on the calling thread (see pipeline.h). */
#include "ingest/pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "ingest/csv_reader.h"
#include "ingest/gunzip.h"
#include "ingest/jsonl_reader.h"

/* Buffers between the threads after the sample: one being filled, one queued, one being
 * consumed. Sample parts are held by the consumer until the sample is complete, so more
 * buffers are made while it lasts. */
#define PIPE_BATCHES 3
/* A batch is handed over at this many records or bytes of text (the sample excepted). */
#define PIPE_BATCH_ROWS 8192
#define PIPE_BATCH_BYTES ((size_t)4 << 20)
/* The sample is complete at this much text even if it has fewer records. */
#define PIPE_SAMPLE_MAX_BYTES ((size_t)32 << 20)
/* The first sample part ends at early_rows records or this much text; each later part has
 * twice the records of the one before, up to PART_ROWS, or ends when its text or its fields
 * reach PART_BYTES. Small parts keep the consumer close behind the parser, but every part
 * is fresh memory (the consumer holds them all until the sample ends), and a part's text
 * and fields each take 2 MiB mappings (rows.c): parts that fill them zero the least memory.
 * Doubling gives the consumer its second part soon after the first (on a 3 MB file with
 * 8,192-record parts it waited ~5 ms for it, idle) and reaches full parts after a few. */
#define PIPE_EARLY_BYTES ((size_t)1 << 20)
#define PIPE_PART_ROWS 8192
#define PIPE_PART_BYTES (((size_t)2 << 20) - ((size_t)128 << 10))

typedef struct pipe_state {
    /* Set before the threads start, read-only afterwards. */
    const char *url;
    const silt_ingest_opts *opts;
    const silt_pipeline_consumer *consumer;
    const char *if_none_match;
    const char *if_modified_since;
    int hash_only;             /* download and hash only */
    silt_fetch_info *info;     /* filled by the producer, read after the join */
    /* Producer thread only. */
    char *content_type;        /* from the response headers (malloc'd) */
    unsigned char head[2];     /* first byte held back when the first chunk has only one */
    size_t n_head;             /* bytes in head */
    int started;               /* gzip detection done */
    silt_gunzip *gz;           /* gzip decoder, when the data is gzip */
    silt_format format;        /* decided format */
    int delim;                 /* the delimiter of a delimited format, -1 for JSON Lines */
    silt_reader *rd;           /* reader, created at the first decoded bytes */
    silt_rows rows;            /* records being filled */
    int64_t n_bytes_in;        /* downloaded bytes */
    int sample_done;           /* the last sample part was handed over */
    size_t samp_records;       /* records handed over in sample parts */
    size_t samp_bytes;         /* arena bytes handed over in sample parts */
    size_t part_rows;          /* records of the next sample part (after the first) */
    int64_t expect_bytes;      /* the body's announced size, or <= 0 */
    int input_done;            /* the whole input has been parsed (finish) */
    int prod_rc;               /* producer result */
    char *prod_err;            /* producer error (core/err.h) */
    /* Shared, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    silt_batch **all;          /* every batch made, to free at the end */
    size_t n_all, all_cap;
    silt_batch *q_head, *q_tail; /* full batches, FIFO */
    silt_batch *free_list;
    int done;                  /* the producer has finished */
    int abort;                 /* the consumer failed: the producer must stop */
    int consumer_waiting;      /* the consumer is waiting for a batch (also read without mu) */
} pipe_state;

static int ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

silt_format silt_pipeline_format_from_name(const char *name) {
    size_t n = strlen(name);
    if (ends_with(name, n, ".gz")) n -= 3;
    if (ends_with(name, n, ".csv")) return SILT_FMT_CSV;
    if (ends_with(name, n, ".tsv") || ends_with(name, n, ".tab")) return SILT_FMT_TSV;
    if (ends_with(name, n, ".jsonl") || ends_with(name, n, ".ndjson") || ends_with(name, n, ".json"))
        return SILT_FMT_JSONL;
    return SILT_FMT_AUTO;
}

static silt_format format_from_content_type(const char *ct) {
    if (!ct) return SILT_FMT_AUTO;
    if (strncasecmp(ct, "text/csv", 8) == 0) return SILT_FMT_CSV;
    if (strncasecmp(ct, "text/tab-separated-values", 25) == 0) return SILT_FMT_TSV;
    if (strcasestr(ct, "ndjson") || strcasestr(ct, "jsonl") || strcasestr(ct, "json-seq") ||
        strcasestr(ct, "jsonlines") || strcasestr(ct, "json-lines"))
        return SILT_FMT_JSONL;
    return SILT_FMT_AUTO;
}

/* Guesses from the first bytes: '{' -> JSON Lines; more tabs than commas in the first line
 * -> TSV; else CSV. */
static silt_format format_from_content(const char *p, size_t n) {
    size_t i = 0;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
    if (i < n && p[i] == '{') return SILT_FMT_JSONL;
    size_t tabs = 0, commas = 0;
    for (; i < n && p[i] != '\n'; i++) tabs += p[i] == '\t', commas += p[i] == ',';
    return tabs > commas ? SILT_FMT_TSV : SILT_FMT_CSV;
}

static int start_reader(pipe_state *ps, const char *p, size_t n, char **err) {
    silt_format f = ps->opts->format;
    if (f == SILT_FMT_AUTO) {
        char *base = silt_fetch_basename(ps->url);
        if (base) f = silt_pipeline_format_from_name(base);
        free(base);
    }
    if (f == SILT_FMT_AUTO) f = format_from_content_type(ps->content_type);
    if (f == SILT_FMT_AUTO) f = format_from_content(p, n);
    ps->format = f;
    ps->delim = -1;
    if (f == SILT_FMT_JSONL) {
        ps->rd = silt_jsonl_reader_new(&ps->rows, err);
    } else {
        int delim = ps->delim = ps->opts->delimiter >= 0 ? ps->opts->delimiter : f == SILT_FMT_TSV ? '\t' : ',';
        int quote = ps->opts->quote != SILT_QUOTE_DEFAULT ? ps->opts->quote
                    : f == SILT_FMT_TSV                   ? SILT_CSV_NO_QUOTE
                                                          : '"';
        ps->rd = silt_csv_reader_new((char)delim, quote, &ps->rows, err);
    }
    return ps->rd ? 0 : -1;
}

/* A new, empty batch recorded in ps->all (mu held), or NULL when out of memory. */
static silt_batch *new_batch(pipe_state *ps) {
    if (ps->n_all == ps->all_cap) {
        size_t cap = ps->all_cap ? ps->all_cap * 2 : 8;
        silt_batch **a2 = realloc(ps->all, cap * sizeof *a2);
        if (!a2) return NULL;
        ps->all = a2;
        ps->all_cap = cap;
    }
    silt_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    silt_rows_init(&b->rows);
    ps->all[ps->n_all++] = b;
    return b;
}

static void free_batch(silt_batch *b) {
    silt_rows_free(&b->rows);
    free(b->keys);
    free(b);
}

/* The buffers of a new sample part, or of the first batch after the sample, start empty
 * (the batch is new: the consumer holds every earlier one until the sample ends). Sized at
 * once, at the record and field sizes of the part just handed over, they are mapped once
 * instead of growing through every smaller size, each a fresh allocation to fault in: on a
 * 3.3 MB file of 29,000 records, the 9,000 after the sample doubled their way through ~12 MB
 * for 3 MB of records. A part ends at max_rows records, max_text bytes of text or
 * max_field_bytes of fields (on_decoded); the text still to come bounds the batch after
 * the sample when the input's size is known. A hint only: failing leaves them to grow. */
static void reserve_next(pipe_state *ps, const silt_rows *prev, size_t max_rows, size_t max_text,
                         size_t max_field_bytes) {
    size_t n = prev->n_rows;
    if (n == 0 || ps->input_done) return;
    size_t rows = max_rows + 1;
    size_t bytes_per = prev->arena_bytes / n + 1, fields_per = prev->n_fields / n + 1;
    if (ps->sample_done && !ps->gz && ps->expect_bytes > 0) { /* the sample may end in the last chunk */
        size_t left = ps->expect_bytes > ps->n_bytes_in ? (size_t)(ps->expect_bytes - ps->n_bytes_in) : 0;
        if (max_text > left) max_text = left;
    }
    if (bytes_per * rows > max_text) rows = max_text / bytes_per + 1;
    if (fields_per * sizeof *prev->fields * rows > max_field_bytes)
        rows = max_field_bytes / (fields_per * sizeof *prev->fields) + 1;
    silt_rows *r = &ps->rows;
    (void)silt_rows_reserve(r, r->n_rows + rows, r->n_fields + rows * fields_per, r->arena_bytes + rows * bytes_per);
}

/* Classifies the fields of a delimited file's batch (see silt_batch.classified). Whichever
 * thread has time to spare does it: the producer while the consumer is busy (a file whose
 * inserting is the slower side), the consumer before it takes a batch that arrived
 * unclassified because it was waiting for it (a download or parse that is the slower side,
 * e.g. over the network). JSON Lines give typed values: nothing to do. */
static void classify(pipe_state *ps, silt_batch *b) {
    if (ps->format != SILT_FMT_JSONL) silt_infer_classify_rows(&b->rows);
    b->classified = 1;
}

/* Hands the finished records over to the consumer thread, keeping the record under
 * construction. Blocks while all buffers are in use (except during the sample, whose parts
 * the consumer holds: a new buffer is made then). sample_end: this completes the sample. */
static int hand_over(pipe_state *ps, int sample_end, char **err) {
    int in_sample = !ps->sample_done;
    pthread_mutex_lock(&ps->mu);
    while (!ps->free_list && !ps->abort && !in_sample) pthread_cond_wait(&ps->cv, &ps->mu);
    if (ps->abort) {
        pthread_mutex_unlock(&ps->mu);
        return silt_err(err, "stopped");
    }
    silt_batch *b = ps->free_list;
    if (b) ps->free_list = b->next;
    else b = new_batch(ps);
    pthread_mutex_unlock(&ps->mu);
    if (!b) return silt_err(err, "out of memory");
    b->next = NULL;
    b->sample_part = in_sample;
    b->sample_end = in_sample && sample_end;
    size_t n_keys = ps->rd ? ps->rd->n_keys : 0;
    int rc = 0;
    if (n_keys > b->keys_cap) {
        char **k2 = realloc(b->keys, n_keys * sizeof *k2);
        if (k2) b->keys = k2, b->keys_cap = n_keys;
        else rc = -1;
    }
    silt_rows tmp = b->rows;
    if (rc == 0) {
        b->rows = ps->rows;
        ps->rows = tmp;
        rc = silt_rows_move_partial(&ps->rows, &b->rows);
        if (rc) { /* nothing was moved: swap back */
            tmp = b->rows;
            b->rows = ps->rows;
            ps->rows = tmp;
        }
    }
    if (rc) {
        pthread_mutex_lock(&ps->mu);
        b->next = ps->free_list;
        ps->free_list = b;
        pthread_mutex_unlock(&ps->mu);
        return silt_err(err, "out of memory");
    }
    if (n_keys) memcpy(b->keys, ps->rd->keys, n_keys * sizeof *b->keys);
    b->n_keys = n_keys;
    b->classified = 0;
    if (!__atomic_load_n(&ps->consumer_waiting, __ATOMIC_RELAXED)) classify(ps, b); /* else hand it over now */
    b->n_bytes_in = ps->n_bytes_in;
    b->format = ps->format;
    if (in_sample) {
        ps->samp_records += b->rows.n_rows;
        ps->samp_bytes += b->rows.arena_bytes;
        b->sample_records = ps->samp_records;
        if (sample_end) {
            ps->sample_done = 1;
            reserve_next(ps, &b->rows, PIPE_BATCH_ROWS, PIPE_BATCH_BYTES, SIZE_MAX);
        } else {
            size_t twice = 2 * b->rows.n_rows;
            if (twice > ps->part_rows) ps->part_rows = twice < PIPE_PART_ROWS ? twice : PIPE_PART_ROWS;
            reserve_next(ps, &b->rows, ps->part_rows, PIPE_PART_BYTES, PIPE_PART_BYTES);
        }
    }
    pthread_mutex_lock(&ps->mu);
    if (ps->q_tail) ps->q_tail->next = b;
    else ps->q_head = b;
    ps->q_tail = b;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    return 0;
}

/* The first sample part's buffers, sized before the first byte is parsed: growing them from
 * nothing copies each into fresh memory at every doubling, and on a 3 MB file that
 * page-faulting was most of the ~4 ms the first part took to parse. The size comes from the
 * first chunk of input (p, n): its lines give the bytes of a record and, for a delimited
 * file, its delimiters the fields of one (quoted delimiters and line breaks only make the
 * estimate larger or the buffers grow as before). Without a line in the chunk, or for JSON
 * Lines, it falls back to what the body's announced size bounds: up to PIPE_EARLY_BYTES of
 * text and 64 fields a record. A hint: failing leaves the buffers to grow. */
static void reserve_first_part(pipe_state *ps, const char *p, size_t n) {
    int64_t early = ps->consumer->early_rows;
    if (early <= 0) return;
    size_t lines = 0, delims = 0;
    int delim = ps->delim;
    for (size_t i = 0; i < n; i++) {
        lines += p[i] == '\n';
        delims += (unsigned char)p[i] == delim;
    }
    size_t rows = (size_t)early, bytes, fields;
    if (lines && delim >= 0) {
        /* The part ends at early_rows records or PIPE_EARLY_BYTES of text, whichever first. */
        size_t per_row = n / lines + 1;
        if (rows > PIPE_EARLY_BYTES / per_row + 1) rows = PIPE_EARLY_BYTES / per_row + 1;
        bytes = rows * per_row;
        fields = rows * (delims / lines + 1);
    } else {
        if (ps->expect_bytes <= 0) return;
        bytes = ps->expect_bytes < (int64_t)PIPE_EARLY_BYTES ? (size_t)ps->expect_bytes : PIPE_EARLY_BYTES;
        if (rows > bytes) rows = bytes;
        fields = rows * 64 < bytes ? rows * 64 : bytes;
    }
    (void)silt_rows_reserve(&ps->rows, rows + 1, fields + 64, bytes + 4096);
}

/* Decoded bytes: into the reader; full batches to the consumer. */
static int on_decoded(void *ctx, const char *p, size_t n, char **err) {
    pipe_state *ps = ctx;
    if (!ps->rd) {
        if (start_reader(ps, p, n, err)) return -1;
        reserve_first_part(ps, p, n);
    }
    if (ps->rd->feed(ps->rd, p, n, err)) return -1;
    const silt_rows *r = &ps->rows;
    if (ps->sample_done)
        return r->n_rows >= PIPE_BATCH_ROWS || r->arena_bytes >= PIPE_BATCH_BYTES ? hand_over(ps, 0, err) : 0;
    /* The sample's end as if it were one batch: the same records, cut at the same chunk. */
    if ((int64_t)(ps->samp_records + r->n_rows) > ps->consumer->sample_rows ||
        ps->samp_bytes + r->arena_bytes >= PIPE_SAMPLE_MAX_BYTES)
        return hand_over(ps, 1, err);
    if (ps->consumer->early_rows <= 0 || r->n_rows == 0) return 0;
    int part = ps->samp_records == 0
                   ? (int64_t)r->n_rows >= ps->consumer->early_rows || r->arena_bytes >= PIPE_EARLY_BYTES
                   : r->n_rows >= ps->part_rows || r->arena_bytes >= PIPE_PART_BYTES ||
                         r->n_fields * sizeof *r->fields >= PIPE_PART_BYTES;
    return part ? hand_over(ps, 0, err) : 0;
}

/* Raw bytes: the first two decide whether a gzip decoder sits in front of the reader. */
static int route(pipe_state *ps, const char *p, size_t n, char **err) {
    if (!ps->started) {
        ps->started = 1;
        if (silt_gunzip_magic(p, n)) {
            ps->gz = silt_gunzip_new(on_decoded, ps, ps->opts->max_bytes, err);
            if (!ps->gz) return -1;
        }
    }
    return ps->gz ? silt_gunzip_feed(ps->gz, p, n, err) : on_decoded(ps, p, n, err);
}

static int aborted(pipe_state *ps) { return __atomic_load_n(&ps->abort, __ATOMIC_RELAXED); }

static int on_data(void *ctx, const char *p, size_t n, char **err) {
    pipe_state *ps = ctx;
    if (aborted(ps)) return silt_err(err, "stopped");
    ps->n_bytes_in += (int64_t)n;
    if (ps->hash_only) return 0;
    if (!ps->started && ps->n_head + n < 2) { /* too little to test for gzip yet */
        memcpy(ps->head + ps->n_head, p, n);
        ps->n_head += n;
        return 0;
    }
    if (ps->n_head) {
        unsigned char two[2];
        size_t k = 2 - ps->n_head;
        memcpy(two, ps->head, ps->n_head);
        memcpy(two + ps->n_head, p, k);
        ps->n_head = 0;
        if (route(ps, (const char *)two, 2, err)) return -1;
        p += k, n -= k;
        if (!n) return 0;
    }
    return route(ps, p, n, err);
}

static int on_begin(void *ctx, const silt_fetch_info *info, char **err) {
    pipe_state *ps = ctx;
    if (info->content_type) ps->content_type = strdup(info->content_type);
    ps->expect_bytes = info->expect_bytes;
    return ps->consumer->begin ? ps->consumer->begin(ps->consumer->ctx, info, err) : 0;
}

static int on_fetch_tick(void *ctx, char **err) {
    return aborted(ctx) ? silt_err(err, "stopped") : 0;
}

/* End of input: the held byte, the decoder and the reader; the last records handed over. */
static int finish(pipe_state *ps, char **err) {
    if (ps->n_head) {
        ps->started = 1;
        size_t k = ps->n_head;
        ps->n_head = 0;
        if (on_decoded(ps, (const char *)ps->head, k, err)) return -1;
    }
    if (ps->gz && silt_gunzip_finish(ps->gz, err)) return -1;
    if (!ps->rd && start_reader(ps, "", 0, err)) return -1;
    if (ps->rd->finish(ps->rd, err)) return -1;
    ps->input_done = 1;
    /* The sample always ends with a part of its own, even an empty one. */
    return ps->rows.n_rows || !ps->sample_done ? hand_over(ps, !ps->sample_done, err) : 0;
}

static void *producer(void *arg) {
    pipe_state *ps = arg;
    silt_fetch_opts fo = {
        .timeout_ms = ps->opts->timeout_ms,
        .connect_timeout_ms = ps->opts->connect_timeout_ms,
        .max_redirects = ps->opts->max_redirects,
        .max_bytes = ps->opts->max_bytes,
        .if_none_match = ps->if_none_match,
        .if_modified_since = ps->if_modified_since,
    };
    silt_fetch_sink sink = {.begin = on_begin, .data = on_data, .tick = on_fetch_tick, .ctx = ps};
    int rc = silt_fetch(ps->url, &fo, &sink, ps->info, &ps->prod_err);
    if (rc == 0 && !ps->hash_only && !ps->info->not_modified && !ps->info->stopped)
        rc = finish(ps, &ps->prod_err);
    pthread_mutex_lock(&ps->mu);
    ps->prod_rc = rc;
    ps->done = 1;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    return NULL;
}

static void stop_producer(pipe_state *ps) {
    pthread_mutex_lock(&ps->mu);
    ps->abort = 1;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
}

/* Consumer loop on the calling thread: batches in order, ticks while waiting. Sample
 * parts are held until the sample's last part has been consumed. 0 or -1. */
static int consume(pipe_state *ps, char **err) {
    const silt_pipeline_consumer *c = ps->consumer;
    silt_batch *held = NULL, *held_tail = NULL;
    if (c->idle) {
        int more;
        while ((more = c->idle(c->ctx, 0, err)) == 1) {
            pthread_mutex_lock(&ps->mu);
            int ready = ps->q_head || ps->done;
            pthread_mutex_unlock(&ps->mu);
            if (ready) break;
        }
        if (more < 0 || c->idle(c->ctx, 1, err) < 0) return -1;
    }
    for (;;) {
        pthread_mutex_lock(&ps->mu);
        while (!ps->q_head && !ps->done) {
            __atomic_store_n(&ps->consumer_waiting, 1, __ATOMIC_RELAXED);
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 100 * 1000 * 1000;
            if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
            if (pthread_cond_timedwait(&ps->cv, &ps->mu, &until) == ETIMEDOUT && c->tick) {
                pthread_mutex_unlock(&ps->mu);
                if (c->tick(c->ctx, err)) return -1;
                pthread_mutex_lock(&ps->mu);
            }
        }
        if (!ps->q_head) { /* done */
            pthread_mutex_unlock(&ps->mu);
            return 0;
        }
        __atomic_store_n(&ps->consumer_waiting, 0, __ATOMIC_RELAXED);
        silt_batch *b = ps->q_head;
        ps->q_head = b->next;
        if (!ps->q_head) ps->q_tail = NULL;
        b->next = NULL;
        pthread_mutex_unlock(&ps->mu);
        if (!b->classified) classify(ps, b);
        int rc = c->records(c->ctx, b, 0, err);
        if (b->sample_part && !b->sample_end && rc == 0) {
            if (held_tail) held_tail->next = b;
            else held = b;
            held_tail = b;
            continue;
        }
        if (held_tail) held_tail->next = b; /* the whole sample goes back at once */
        else held = b;
        for (silt_batch *h = held; h; h = h->next) silt_rows_clear(&h->rows);
        pthread_mutex_lock(&ps->mu);
        b->next = ps->free_list;
        ps->free_list = held;
        held = held_tail = NULL;
        pthread_cond_broadcast(&ps->cv);
        pthread_mutex_unlock(&ps->mu);
        if (rc) return -1;
    }
}

int silt_pipeline_run(const char *url, const silt_ingest_opts *opts, int hash_only,
                      const char *if_none_match, const char *if_modified_since,
                      const silt_pipeline_consumer *consumer, silt_fetch_info *info, char **err) {
    memset(info, 0, sizeof *info);
    pipe_state *ps = calloc(1, sizeof *ps);
    if (!ps) return silt_err(err, "out of memory");
    ps->url = url;
    ps->opts = opts;
    ps->consumer = consumer;
    ps->hash_only = hash_only;
    ps->if_none_match = if_none_match;
    ps->if_modified_since = if_modified_since;
    ps->info = info;
    silt_rows_init(&ps->rows);
    int rc = 0;
    for (int i = 0; rc == 0 && i < PIPE_BATCHES; i++) {
        silt_batch *b = new_batch(ps);
        if (!b) rc = -1;
        else b->next = ps->free_list, ps->free_list = b;
    }
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    pthread_t th;
    if (rc) {
        rc = silt_err(err, "out of memory");
    } else if (pthread_create(&th, NULL, producer, ps) != 0) {
        rc = silt_err(err, "cannot start the download thread");
    } else {
        char *cerr = NULL;
        rc = consume(ps, &cerr);
        if (rc) stop_producer(ps);
        pthread_join(th, NULL);
        if (rc) { /* the consumer's error explains the producer's "stopped" */
            if (err) free(*err), *err = cerr;
            else free(cerr);
        } else if (ps->prod_rc) {
            rc = -1;
            if (err) free(*err), *err = ps->prod_err, ps->prod_err = NULL;
        } else if (!hash_only && !info->not_modified && !info->stopped) {
            silt_batch *last = ps->all[0]; /* empty: all were cleared */
            last->sample_part = last->sample_end = 0;
            last->classified = 1;
            size_t n_keys = ps->rd ? ps->rd->n_keys : 0;
            if (n_keys > last->keys_cap) {
                char **k2 = realloc(last->keys, n_keys * sizeof *k2);
                if (k2) last->keys = k2, last->keys_cap = n_keys;
                else n_keys = 0;
            }
            if (n_keys) memcpy(last->keys, ps->rd->keys, n_keys * sizeof *last->keys);
            last->n_keys = n_keys;
            last->n_bytes_in = ps->n_bytes_in;
            last->format = ps->format;
            rc = consumer->records(consumer->ctx, last, 1, err);
        }
    }
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    for (size_t i = 0; i < ps->n_all; i++) free_batch(ps->all[i]);
    free(ps->all);
    silt_reader_free(ps->rd);
    silt_gunzip_free(ps->gz);
    silt_rows_free(&ps->rows);
    free(ps->content_type);
    free(ps->prod_err);
    free(ps);
    return rc;
}
