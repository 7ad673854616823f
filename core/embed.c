/* embed.c: tokenize, sort by length, batch, encode, unsort (see embed.h).
 *
 * Tokenizing is spread over the thread pool (it is pure CPU work per text). Batches are run
 * one after the other on the calling thread: each encoder's embed_batch already spreads its
 * own per-text work over the pool and lets OpenBLAS thread the large products, so running
 * two batches at once would only oversubscribe the cores (a nested parallel-for runs
 * serially) and double the activation memory. */
#include "core/embed.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/threads.h"

typedef struct {
    const silt_encoder *enc;
    const char *const *texts;
    const size_t *lens;
    int n, truncate, n_tasks;
    int32_t **ids;  /* per text, malloc'd by the tokenizer */
    int *n_ids;
    char **errs;    /* per task: first error met, malloc'd */
    int *err_text;  /* per task: index of the text that failed */
} tokenize_job;

static void tokenize_task(void *ctx, int task, int worker) {
    (void)worker;
    tokenize_job *j = ctx;
    int lo = (int)((long long)j->n * task / j->n_tasks);
    int hi = (int)((long long)j->n * (task + 1) / j->n_tasks);
    for (int i = lo; i < hi; i++) {
        size_t len = j->lens ? j->lens[i] : strlen(j->texts[i]);
        char *e = NULL;
        if (j->enc->ops->tokenize(j->enc, j->texts[i], len, j->truncate, &j->ids[i],
                                  &j->n_ids[i], &e)) {
            j->ids[i] = NULL;
            j->errs[task] = e ? e : strdup("tokenizer failed");
            j->err_text[task] = i;
            return;
        }
    }
}

int silt_embed_texts(const silt_encoder *enc, const char *const *texts, const size_t *lens,
                     int n, int truncate, float *out, char **err) {
    if (n <= 0) return 0;
    tokenize_job j = {.enc = enc, .texts = texts, .lens = lens, .n = n, .truncate = truncate};
    /* Several tasks per worker so that one long text does not leave a core idle. */
    int n_tasks = silt_threads_count() * 4;
    if (n_tasks > n) n_tasks = n;
    if (n < 8) n_tasks = 1; /* waking the pool costs more than a few short texts */
    j.n_tasks = n_tasks;
    j.ids = calloc((size_t)n, sizeof *j.ids);
    j.n_ids = calloc((size_t)n, sizeof *j.n_ids);
    j.errs = calloc((size_t)n_tasks, sizeof *j.errs);
    j.err_text = calloc((size_t)n_tasks, sizeof *j.err_text);
    int rc = 0;
    if (!j.ids || !j.n_ids || !j.errs || !j.err_text) {
        rc = silt_err(err, "out of memory tokenizing %d texts", n);
    } else {
        if (n_tasks == 1) tokenize_task(&j, 0, 0);
        else silt_threads_for(n_tasks, tokenize_task, &j);
        for (int t = 0; t < n_tasks && rc == 0; t++)
            if (j.errs[t]) {
                rc = silt_err(err, "text %d: %s", j.err_text[t], j.errs[t]);
            }
        if (rc == 0)
            rc = silt_embed_tokens(enc, (const int32_t *const *)j.ids, j.n_ids, n, out, err);
    }
    if (j.errs)
        for (int t = 0; t < n_tasks; t++) free(j.errs[t]);
    if (j.ids)
        for (int i = 0; i < n; i++) free(j.ids[i]);
    free(j.ids);
    free(j.n_ids);
    free(j.errs);
    free(j.err_text);
    return rc;
}

/* Sort key: longest first, then input order, so that equal inputs batch deterministically. */
typedef struct {
    int n_ids, index;
} len_index;

static int cmp_len_desc(const void *a, const void *b) {
    const len_index *x = a, *y = b;
    if (x->n_ids != y->n_ids) return x->n_ids > y->n_ids ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int silt_embed_tokens(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids,
                      int n, float *out, char **err) {
    if (n <= 0) return 0;
    const size_t dim = (size_t)enc->dim;
    if (n == 1) return enc->ops->embed_batch(enc, ids, n_ids, 1, out, err);

    len_index *order = malloc((size_t)n * sizeof *order);
    const int32_t **b_ids = malloc(SILT_EMBED_BATCH_TEXTS * sizeof *b_ids);
    int *b_n = malloc(SILT_EMBED_BATCH_TEXTS * sizeof *b_n);
    float *b_out = malloc(SILT_EMBED_BATCH_TEXTS * dim * sizeof *b_out);
    int rc = 0;
    if (!order || !b_ids || !b_n || !b_out) {
        rc = silt_err(err, "out of memory embedding %d texts", n);
        goto done;
    }
    for (int i = 0; i < n; i++) order[i].n_ids = n_ids[i], order[i].index = i;
    qsort(order, (size_t)n, sizeof *order, cmp_len_desc);

    for (int start = 0; start < n && rc == 0;) {
        /* Sorted longest first, so the first text of a batch sets its padded length. */
        long long longest = order[start].n_ids > 0 ? order[start].n_ids : 1;
        int count = 0;
        while (start + count < n && count < SILT_EMBED_BATCH_TEXTS &&
               (count == 0 || longest * (count + 1) <= SILT_EMBED_BATCH_TOKENS)) {
            b_ids[count] = ids[order[start + count].index];
            b_n[count] = n_ids[order[start + count].index];
            count++;
        }
        if (enc->ops->embed_batch(enc, b_ids, b_n, count, b_out, err)) {
            rc = -1;
            break;
        }
        for (int k = 0; k < count; k++)
            memcpy(out + (size_t)order[start + k].index * dim, b_out + (size_t)k * dim,
                   dim * sizeof *out);
        start += count;
    }
done:
    free(order);
    free(b_ids);
    free(b_n);
    free(b_out);
    return rc;
}
