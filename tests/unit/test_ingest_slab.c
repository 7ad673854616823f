/* test_ingest_slab.c: the huge-page slabs behind large ingest buffers (ingest/slab.h). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/slab.h"

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}
static int check(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

/* Buffers are aligned and disjoint, keep their bytes through growth (in place for the
 * newest buffer, by a move otherwise), and buffers larger than a slab work too. */
Test(slab, carve_grow_and_free) {
    enum { N = 40 };
    unsigned char *b[N];
    size_t sz[N];
    for (int i = 0; i < N; i++) {
        sz[i] = (size_t)(i * 37 % 13 + 1) * 50000;
        b[i] = silt_slab_alloc(sz[i]);
        cr_assert_not_null(b[i]);
        cr_assert_eq((uintptr_t)b[i] % 64, 0);
        fill(b[i], sz[i], (unsigned)i);
    }
    for (int i = 0; i < N; i++) cr_assert(check(b[i], sz[i], (unsigned)i), "buffer %d", i);
    /* The newest buffer grows where it is while its slab has room. */
    unsigned char *g = silt_slab_grow(b[N - 1], sz[N - 1], sz[N - 1], sz[N - 1] + 1000);
    cr_assert_eq(g, b[N - 1]);
    b[N - 1] = g, sz[N - 1] += 1000;
    fill(b[N - 1], sz[N - 1], N - 1);
    /* An older one moves, keeping what was used. */
    g = silt_slab_grow(b[3], sz[3], sz[3] / 2, sz[3] * 3);
    cr_assert_not_null(g);
    cr_assert(check(g, sz[3] / 2, 3));
    b[3] = g, sz[3] *= 3;
    fill(b[3], sz[3], 3);
    /* Larger than a slab: a slab of its own. */
    size_t big = (size_t)20 << 20;
    unsigned char *h = silt_slab_alloc(big);
    cr_assert_not_null(h);
    fill(h, big, 99);
    for (int i = 0; i < N; i++) cr_assert(check(b[i], sz[i], (unsigned)i), "buffer %d after growth", i);
    cr_assert(check(h, big, 99));
    g = silt_slab_grow(h, big, big, big + 4096);
    cr_assert_not_null(g);
    cr_assert(check(g, big, 99));
    silt_slab_free(g);
    for (int i = 0; i < N; i += 2) silt_slab_free(b[i]);
    for (int i = 1; i < N; i += 2) cr_assert(check(b[i], sz[i], (unsigned)i), "buffer %d after frees", i);
    for (int i = 1; i < N; i += 2) silt_slab_free(b[i]);
    silt_slab_free(NULL);
    cr_assert_null(silt_slab_alloc(SIZE_MAX - 10), "an impossible size fails cleanly");
}

static void *churn(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int round = 0; round < 200; round++) {
        unsigned char *p[8];
        size_t n[8];
        for (int i = 0; i < 8; i++) {
            n[i] = 70000 + (size_t)((seed + (unsigned)round * 31 + (unsigned)i * 7) % 300000);
            p[i] = silt_slab_alloc(n[i]);
            if (!p[i]) return (void *)2;
            fill(p[i], n[i], seed + (unsigned)i);
        }
        for (int i = 0; i < 8; i++) {
            if (!check(p[i], n[i], seed + (unsigned)i)) return (void *)1;
            silt_slab_free(p[i]);
        }
    }
    return NULL;
}

/* Two threads carving and freeing at once never see each other's bytes. */
Test(slab, two_threads) {
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, churn, (void *)(uintptr_t)11), 0);
    void *mine = churn((void *)(uintptr_t)23);
    void *theirs;
    pthread_join(t, &theirs);
    cr_assert_null(mine);
    cr_assert_null(theirs);
}
