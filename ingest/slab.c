/* slab.c: large buffers carved from shared huge-page mappings (see slab.h).
 *
 * Every slab is a mapping aligned to SLAB_BYTES whose first HEAD bytes hold its
 * bookkeeping; a buffer finds its slab by rounding its address down, so buffers carry no
 * header of their own. That matters: a header written in front of each buffer would touch
 * (and so fault in and zero) the huge page after a buffer reserved larger than it is filled,
 * which is the usual case for the parts of a sample. */
#include "ingest/slab.h"

#include "core/hugepages.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_BYTES ((size_t)2 << 20)
#define SLAB_BYTES ((size_t)8 << 20) /* a slab's size and alignment (one buffer may need more) */
#define HEAD 64                      /* the slab's bookkeeping; buffers are 64-byte aligned */

typedef struct slab {
    size_t size; /* mapped bytes */
    size_t used; /* bytes carved so far, HEAD included */
    size_t last; /* offset of the newest buffer */
    size_t live; /* buffers carved and not freed */
} slab;

static pthread_mutex_t slab_mu = PTHREAD_MUTEX_INITIALIZER;
static slab *slab_cur; /* the slab new buffers are carved from (under slab_mu) */

static size_t round64(size_t n) { return (n + HEAD - 1) & ~(size_t)(HEAD - 1); }

static slab *slab_of(void *p) { return (slab *)((uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1)); }

void *silt_map_huge(size_t n, size_t align) {
    if (n > SIZE_MAX - align) return NULL;
    char *p = mmap(NULL, n + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    /* Trim the over-allocation so that the mapping starts on an align boundary. */
    size_t lead = (align - ((uintptr_t)p & (align - 1))) & (align - 1);
    if (lead) munmap(p, lead);
    if (align - lead) munmap(p + lead + n, align - lead);
    p += lead;
    silt_advise_huge(p, n);
    return p;
}

/* A new slab with room for need bytes after its bookkeeping, aligned to SLAB_BYTES, or
 * NULL. */
static slab *slab_new(size_t need) {
    if (need > SIZE_MAX - 2 * SLAB_BYTES) return NULL;
    size_t size = (need + HEAD + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    if (size < SLAB_BYTES) size = SLAB_BYTES;
    slab *s = silt_map_huge(size, SLAB_BYTES);
    if (!s) return NULL;
    s->size = size, s->used = HEAD, s->last = HEAD, s->live = 0;
    return s;
}

void *silt_slab_alloc(size_t n) {
    if (n > SIZE_MAX - 2 * SLAB_BYTES) return NULL;
    size_t need = round64(n ? n : 1);
    pthread_mutex_lock(&slab_mu);
    slab *s = slab_cur;
    if (!s || s->size - s->used < need) {
        s = slab_new(need);
        if (!s) {
            pthread_mutex_unlock(&slab_mu);
            return NULL;
        }
        /* A buffer too large for a standard slab gets one of its own; the current slab
         * stays current. The old current slab is unmapped when its last buffer is freed. */
        if (need <= SLAB_BYTES - HEAD) slab_cur = s;
    }
    char *p = (char *)s + s->used;
    s->last = s->used;
    s->used += need;
    s->live++;
    pthread_mutex_unlock(&slab_mu);
    return p;
}

void silt_slab_free(void *p) {
    if (!p) return;
    slab *s = slab_of(p);
    pthread_mutex_lock(&slab_mu);
    if (--s->live == 0) {
        if (s == slab_cur) slab_cur = NULL;
        munmap(s, s->size);
    }
    pthread_mutex_unlock(&slab_mu);
}

void *silt_slab_grow(void *p, size_t old, size_t used, size_t n) {
    if (!p) return silt_slab_alloc(n);
    if (n <= old) return p;
    if (n <= SIZE_MAX - 2 * SLAB_BYTES) {
        slab *s = slab_of(p);
        pthread_mutex_lock(&slab_mu);
        size_t at = (size_t)((char *)p - (char *)s);
        if (s == slab_cur && at == s->last && s->size - at >= round64(n)) {
            s->used = at + round64(n); /* the newest buffer: extend it where it is */
            pthread_mutex_unlock(&slab_mu);
            return p;
        }
        pthread_mutex_unlock(&slab_mu);
    }
    void *q = silt_slab_alloc(n);
    if (!q) return NULL;
    if (used) memcpy(q, p, used);
    silt_slab_free(p);
    return q;
}
