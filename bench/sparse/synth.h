/* synth.h: the synthetic SPLADE-like collection of bench_sparse.c (its header comment gives
 * the law), shared with bmp_proto.c so both measure the same documents and queries. Static
 * functions and tables: include it from one translation unit per program. */
#ifndef SILT_BENCH_SPARSE_SYNTH_H
#define SILT_BENCH_SPARSE_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <time.h>

#define VOCAB 30522

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Walker's alias table over Zipf(1) ranks: one uniform draw per sample. */
static double alias_p[VOCAB];
static uint32_t alias_a[VOCAB];
static uint32_t rank_to_id[VOCAB];
static float rank_weight[VOCAB]; /* g(rank) of the header comment */

static void alias_init(void) {
    static double q[VOCAB];
    static uint32_t small[VOCAB], large[VOCAB];
    double sum = 0;
    for (uint32_t r = 0; r < VOCAB; r++) sum += 1.0 / (r + 1);
    uint32_t ns = 0, nl = 0;
    for (uint32_t r = 0; r < VOCAB; r++) {
        q[r] = VOCAB * (1.0 / (r + 1)) / sum;
        if (q[r] < 1) small[ns++] = r;
        else large[nl++] = r;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        alias_p[s] = q[s], alias_a[s] = l;
        q[l] -= 1 - q[s];
        if (q[l] < 1) nl--, small[ns++] = l;
    }
    while (nl) alias_p[large[--nl]] = 1;
    while (ns) alias_p[small[--ns]] = 1;
}

static uint32_t draw_rank(uint64_t *s) {
    uint64_t x = rng_next(s);
    uint32_t i = (uint32_t)((x >> 32) % VOCAB);
    double u = (double)(x & 0xffffffffu) / 4294967296.0;
    return u < alias_p[i] ? i : alias_a[i];
}

/* A vector of n distinct terms (ids sorted) into ids/w, which hold at least n. */
static void make_vec(uint64_t *s, uint32_t n, uint8_t *mark, uint32_t *ids, float *w) {
    uint32_t ranks[256];
    for (uint32_t i = 0; i < n;) {
        uint32_t r = draw_rank(s);
        if (mark[r]) continue;
        mark[r] = 1;
        ranks[i++] = r;
    }
    /* Sort by id, carrying the rank for the weight. */
    uint64_t key[256];
    for (uint32_t i = 0; i < n; i++) {
        mark[ranks[i]] = 0;
        key[i] = (uint64_t)rank_to_id[ranks[i]] << 32 | ranks[i];
    }
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && key[j] < key[j - 1]; j--) {
            uint64_t t = key[j];
            key[j] = key[j - 1], key[j - 1] = t;
        }
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = (uint32_t)(key[i] >> 32);
        w[i] = rank_weight[(uint32_t)key[i]] * (float)(0.1 + 0.9 * rng_unit(s));
    }
}

/* Sets up the tables; *s is the generator state (seeded here), to be passed on to make_vec. */
static void synth_init(uint64_t *s) {
    alias_init();
    for (uint32_t r = 0; r < VOCAB; r++) {
        rank_to_id[r] = r;
        rank_weight[r] = (float)(0.2 + 2.8 * log(2.0 + r) / log((double)VOCAB));
    }
    *s = 12345;
    for (uint32_t r = VOCAB - 1; r > 0; r--) {
        uint32_t j = (uint32_t)(rng_next(s) % (r + 1)), t = rank_to_id[r];
        rank_to_id[r] = rank_to_id[j], rank_to_id[j] = t;
    }
}

#endif
