/* hasher.c: SHA-256 on a thread of its own (see hasher.h). The bytes travel in a ring of
 * blocks: the feeder fills one while the thread hashes the full ones in order. */
#include "ingest/hasher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/rows.h"
#include "ingest/digest.h"

#define BLOCK_BYTES ((size_t)1 << 20)
#define N_BLOCKS 4

struct silt_hasher {
    silt_digest *d;           /* the caller's, used by the thread until finish joins it */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *mem;                /* N_BLOCKS blocks */
    size_t len[N_BLOCKS];     /* bytes in each full block */
    int head, count;          /* full blocks: head .. head + count - 1 (mod N_BLOCKS) */
    size_t fill_len;          /* bytes in the block being filled, (head + count) % N_BLOCKS */
    int done;                 /* no more blocks will come */
};

static char *block(silt_hasher *h, int i) { return h->mem + (size_t)i * BLOCK_BYTES; }

static void *run(void *arg) {
    silt_hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->count == 0 && !h->done) pthread_cond_wait(&h->cv, &h->mu);
        if (h->count == 0) break;
        int i = h->head;
        pthread_mutex_unlock(&h->mu);
        /* The block stays counted until hashed, so the feeder cannot refill it. */
        silt_digest_update(h->d, block(h, i), h->len[i]);
        pthread_mutex_lock(&h->mu);
        h->head = (h->head + 1) % N_BLOCKS;
        h->count--;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

silt_hasher *silt_hasher_start(silt_digest *d) {
    silt_hasher *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    /* Huge pages: fresh 4 KiB pages would cost more to fault in than hashing them. */
    h->mem = silt_big_alloc((size_t)N_BLOCKS * BLOCK_BYTES);
    if (!h->mem) {
        free(h);
        return NULL;
    }
    h->d = d;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->th, NULL, run, h) != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        silt_big_free(h->mem, (size_t)N_BLOCKS * BLOCK_BYTES);
        free(h);
        return NULL;
    }
    return h;
}

/* Queues the block being filled (mu held) and waits for a free one to fill next. */
static void push_block(silt_hasher *h) {
    h->len[(h->head + h->count) % N_BLOCKS] = h->fill_len;
    h->count++;
    h->fill_len = 0;
    pthread_cond_broadcast(&h->cv);
    while (h->count == N_BLOCKS) pthread_cond_wait(&h->cv, &h->mu);
}

void silt_hasher_feed(silt_hasher *h, const void *p, size_t n) {
    const char *s = p;
    pthread_mutex_lock(&h->mu);
    while (n) {
        int i = (h->head + h->count) % N_BLOCKS;
        size_t k = BLOCK_BYTES - h->fill_len < n ? BLOCK_BYTES - h->fill_len : n;
        /* Block i is neither queued nor being hashed: it is copied without the lock. */
        pthread_mutex_unlock(&h->mu);
        memcpy(block(h, i) + h->fill_len, s, k);
        pthread_mutex_lock(&h->mu);
        h->fill_len += k, s += k, n -= k;
        if (h->fill_len == BLOCK_BYTES) push_block(h);
    }
    pthread_mutex_unlock(&h->mu);
}

void silt_hasher_finish(silt_hasher *h) {
    pthread_mutex_lock(&h->mu);
    if (h->fill_len) push_block(h);
    h->done = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    silt_big_free(h->mem, (size_t)N_BLOCKS * BLOCK_BYTES);
    free(h);
}
