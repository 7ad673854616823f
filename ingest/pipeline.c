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

/* Buffers between the threads: one being filled, one queued, one being consumed. */
#define PIPE_BATCHES 3
/* A batch is handed over at this many records or bytes of text (the sample excepted). */
#define PIPE_BATCH_ROWS 8192
#define PIPE_BATCH_BYTES ((size_t)4 << 20)
/* The sample batch is handed over at this much text even if it has fewer records. */
#define PIPE_SAMPLE_MAX_BYTES ((size_t)32 << 20)

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
    silt_reader *rd;           /* reader, created at the first decoded bytes */
    silt_rows rows;            /* records being filled */
    int64_t n_bytes_in;        /* downloaded bytes */
    int first_sent;            /* the sample batch was handed over */
    int prod_rc;               /* producer result */
    char *prod_err;            /* producer error (core/err.h) */
    /* Shared, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    silt_batch batches[PIPE_BATCHES];
    silt_batch *queue[PIPE_BATCHES]; /* full batches, FIFO from q_head */
    int q_head, q_len;
    silt_batch *free_batches[PIPE_BATCHES];
    int n_free;
    int done;                  /* the producer has finished */
    int abort;                 /* the consumer failed: the producer must stop */
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
    if (f == SILT_FMT_JSONL) {
        ps->rd = silt_jsonl_reader_new(&ps->rows, err);
    } else {
        int delim = ps->opts->delimiter >= 0 ? ps->opts->delimiter : f == SILT_FMT_TSV ? '\t' : ',';
        int quote = ps->opts->quote != SILT_QUOTE_DEFAULT ? ps->opts->quote
                    : f == SILT_FMT_TSV                   ? SILT_CSV_NO_QUOTE
                                                          : '"';
        ps->rd = silt_csv_reader_new((char)delim, quote, &ps->rows, err);
    }
    return ps->rd ? 0 : -1;
}

/* Hands the finished records over to the consumer thread, keeping the record under
 * construction. Blocks while all buffers are in use. */
static int hand_over(pipe_state *ps, char **err) {
    pthread_mutex_lock(&ps->mu);
    while (ps->n_free == 0 && !ps->abort) pthread_cond_wait(&ps->cv, &ps->mu);
    if (ps->abort) {
        pthread_mutex_unlock(&ps->mu);
        return silt_err(err, "stopped");
    }
    silt_batch *b = ps->free_batches[--ps->n_free];
    pthread_mutex_unlock(&ps->mu);
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
        ps->free_batches[ps->n_free++] = b;
        pthread_mutex_unlock(&ps->mu);
        return silt_err(err, "out of memory");
    }
    if (n_keys) memcpy(b->keys, ps->rd->keys, n_keys * sizeof *b->keys);
    b->n_keys = n_keys;
    b->n_bytes_in = ps->n_bytes_in;
    b->format = ps->format;
    ps->first_sent = 1;
    pthread_mutex_lock(&ps->mu);
    ps->queue[(ps->q_head + ps->q_len++) % PIPE_BATCHES] = b;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    return 0;
}

/* Decoded bytes: into the reader; full batches to the consumer. */
static int on_decoded(void *ctx, const char *p, size_t n, char **err) {
    pipe_state *ps = ctx;
    if (!ps->rd && start_reader(ps, p, n, err)) return -1;
    if (ps->rd->feed(ps->rd, p, n, err)) return -1;
    const silt_rows *r = &ps->rows;
    int full = ps->first_sent ? r->n_rows >= PIPE_BATCH_ROWS || r->arena_bytes >= PIPE_BATCH_BYTES
                              : (int64_t)r->n_rows > ps->consumer->sample_rows ||
                                    r->arena_bytes >= PIPE_SAMPLE_MAX_BYTES;
    return full ? hand_over(ps, err) : 0;
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
    return ps->rows.n_rows ? hand_over(ps, err) : 0;
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

/* Consumer loop on the calling thread: batches in order, ticks while waiting. 0 or -1. */
static int consume(pipe_state *ps, char **err) {
    const silt_pipeline_consumer *c = ps->consumer;
    for (;;) {
        pthread_mutex_lock(&ps->mu);
        while (ps->q_len == 0 && !ps->done) {
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
        if (ps->q_len == 0) { /* done */
            pthread_mutex_unlock(&ps->mu);
            return 0;
        }
        silt_batch *b = ps->queue[ps->q_head];
        ps->q_head = (ps->q_head + 1) % PIPE_BATCHES;
        ps->q_len--;
        pthread_mutex_unlock(&ps->mu);
        int rc = c->records(c->ctx, b, 0, err);
        silt_rows_clear(&b->rows);
        pthread_mutex_lock(&ps->mu);
        ps->free_batches[ps->n_free++] = b;
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
    for (int i = 0; i < PIPE_BATCHES; i++) {
        silt_rows_init(&ps->batches[i].rows);
        ps->free_batches[ps->n_free++] = &ps->batches[i];
    }
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    pthread_t th;
    int rc;
    if (pthread_create(&th, NULL, producer, ps) != 0) {
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
            silt_batch *last = &ps->batches[0]; /* empty: all were cleared */
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
    for (int i = 0; i < PIPE_BATCHES; i++) {
        silt_rows_free(&ps->batches[i].rows);
        free(ps->batches[i].keys);
    }
    silt_reader_free(ps->rd);
    silt_gunzip_free(ps->gz);
    silt_rows_free(&ps->rows);
    free(ps->content_type);
    free(ps->prod_err);
    free(ps);
    return rc;
}
