/* sparse_bmp.c: Block-Max Pruning over one segment (after Mallia, Suel and Tonellotto, SIGIR
 * 2024), the fast search used when sp_search_opts.block_max is set.
 *
 * The segment's documents are cut into blocks of SP_BMP_BLOCK_DOCS consecutive local
 * documents. Per term and block, the largest weight of the term there, rounded up to one of
 * 255 steps of the term's largest weight: a dense u8 array over all blocks for terms present
 * in a quarter of the blocks or more, else (block, u8) pairs. Negative weights get a second
 * such table of the largest -w, used for query terms of the other sign. The tables are
 * derived from the forward index at the first such search of a segment (not stored).
 *
 * A search sums |q_t| x step x blockmax over its terms into an upper bound per block, then
 * scores whole blocks from the forward index (a block is one contiguous run), largest bound
 * first, while alpha x the bound can still reach the k-th best score: alpha 1 gives the exact
 * top k, lower trades recall for speed. Scoring is first from the int8 weights with an error
 * bound, and exactly from the float weights only where that bound reaches the k-th best.
 * On bench/sparse's collection (independent Zipf draws) the bounds of 4-document blocks
 * are tight enough and those of larger blocks are not (bench/README.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "core/err.h"
#include "index/sparse_segment.h"

/* One sign's block maxima. */
typedef struct {
    float *unit;        /* [n_terms] weight of one step: the term's largest weight / 255 */
    uint32_t *dense_at; /* [n_terms] row of the term in dense, or UINT32_MAX */
    uint8_t *dense;     /* [n_dense x n_blocks] per-block maxima of the frequent terms */
    uint64_t *sp_off;   /* [n_terms + 1] start of the other terms' (block, max) pairs */
    uint32_t *sp_blk;   /* blocks holding the term, ascending */
    uint8_t *sp_max;    /* the term's maximum there */
    uint64_t bytes;
} bmp_side;

/* Work arrays of one search (qloc and qc zero between searches). */
typedef struct {
    float *ub;        /* [n_blocks] bounds */
    uint32_t *taken;  /* [n_blocks] blocks of the current round */
    uint32_t *sorted; /* [n_blocks] the same, bucketed by bound */
    float *qloc;      /* [n_terms] query weight by local term */
    float *qc;        /* [n_terms] query weight x impact scale */
} bmp_work;

struct sp_bmp {
    uint32_t n_blocks;
    bmp_side side[2];     /* [0]: positive weights, [1]: negated negative ones (has_negative) */
    pthread_mutex_t lock; /* guards work */
    bmp_work *work;       /* kept between searches; a search finding it busy makes its own */
};

static void side_free(bmp_side *x) {
    free(x->unit), free(x->dense_at), free(x->dense), free(x->sp_off), free(x->sp_blk), free(x->sp_max);
}

static void work_free(bmp_work *w) {
    if (!w) return;
    free(w->ub), free(w->taken), free(w->sorted), free(w->qloc), free(w->qc);
    free(w);
}

void silt_spbmp_free(sp_bmp *m) {
    if (!m) return;
    side_free(&m->side[0]), side_free(&m->side[1]);
    work_free(m->work);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

uint64_t silt_spbmp_bytes(const sp_bmp *m) {
    return m ? m->side[0].bytes + m->side[1].bytes + (uint64_t)m->n_blocks * 12 : 0;
}

static inline uint32_t fwd_term(const sp_seg *s, uint64_t i) {
    return s->id_bytes == 2 ? ((const uint16_t *)s->fwd_ids)[i] : ((const uint32_t *)s->fwd_ids)[i];
}

/* First local document of block j. */
static inline uint32_t block_start(const sp_seg *s, uint32_t j) {
    uint64_t d = (uint64_t)j * SP_BMP_BLOCK_DOCS;
    return d < s->n_docs ? (uint32_t)d : s->n_docs;
}

/* Weight of posting i as this side sees it (sign 1: -w), <= 0 when the side ignores it. */
static inline float side_w(const sp_seg *s, uint64_t i, int sign) {
    return sign ? -s->fwd_w[i] : s->fwd_w[i];
}

/* Fills one side from the forward index; 0, or -1 when out of memory. */
static int side_build(const sp_seg *s, uint32_t n_blocks, int sign, bmp_side *x) {
    uint32_t T = s->n_terms;
    uint64_t n_post = s->fwd_first[s->n_docs];
    uint32_t *cnt = calloc((size_t)T + 1, sizeof *cnt), *mark = calloc((size_t)T + 1, sizeof *mark);
    uint8_t *tmax = calloc((size_t)T + 1, 1);
    uint32_t *touched = malloc(((size_t)T + 1) * sizeof *touched);
    uint64_t *fill = NULL;
    int rc = -1;
    x->unit = calloc((size_t)T + 1, sizeof *x->unit);
    x->dense_at = malloc(((size_t)T + 1) * sizeof *x->dense_at);
    x->sp_off = calloc((size_t)T + 1, sizeof *x->sp_off);
    if (!cnt || !mark || !tmax || !touched || !x->unit || !x->dense_at || !x->sp_off) goto done;
    for (uint64_t i = 0; i < n_post; i++) {
        uint32_t t = fwd_term(s, i);
        float w = side_w(s, i, sign);
        if (w > x->unit[t]) x->unit[t] = w; /* the largest weight for now */
    }
    for (uint32_t t = 0; t < T; t++) x->unit[t] = x->unit[t] > 0 ? x->unit[t] / 255.0f : 1.0f;
    /* Blocks holding each term (mark: last block seen + 1). */
    for (uint32_t j = 0; j < n_blocks; j++)
        for (uint64_t i = s->fwd_first[block_start(s, j)]; i < s->fwd_first[block_start(s, j + 1)]; i++) {
            uint32_t t = fwd_term(s, i);
            if (side_w(s, i, sign) > 0 && mark[t] != j + 1) mark[t] = j + 1, cnt[t]++;
        }
    uint32_t n_dense = 0;
    for (uint32_t t = 0; t < T; t++) {
        int dense = (uint64_t)cnt[t] * 4 >= n_blocks && cnt[t] > 0;
        x->dense_at[t] = dense ? n_dense++ : UINT32_MAX;
        x->sp_off[t + 1] = x->sp_off[t] + (dense ? 0 : cnt[t]);
    }
    uint64_t n_sp = x->sp_off[T];
    x->dense = calloc((size_t)n_dense * n_blocks + 1, 1);
    x->sp_blk = malloc((size_t)(n_sp + 1) * sizeof *x->sp_blk);
    x->sp_max = malloc((size_t)n_sp + 1);
    fill = malloc(((size_t)T + 1) * sizeof *fill);
    if (!x->dense || !x->sp_blk || !x->sp_max || !fill) goto done;
    /* Read at places spread over hundreds of MB: huge pages spare TLB misses, as for the
     * forward index (silt_sp_advise_huge). */
    silt_sp_advise_huge(x->dense, (size_t)n_dense * n_blocks + 1);
    silt_sp_advise_huge(x->sp_blk, (size_t)(n_sp + 1) * sizeof *x->sp_blk);
    silt_sp_advise_huge(x->sp_max, (size_t)n_sp + 1);
    memcpy(fill, x->sp_off, (size_t)T * sizeof *fill);
    for (uint32_t j = 0; j < n_blocks; j++) {
        uint32_t nt = 0;
        for (uint64_t i = s->fwd_first[block_start(s, j)]; i < s->fwd_first[block_start(s, j + 1)]; i++) {
            uint32_t t = fwd_term(s, i);
            float w = side_w(s, i, sign);
            if (!(w > 0)) continue;
            /* Rounded up, and checked in float: unit x step is never below the weight. */
            float st = ceilf(w / x->unit[t]);
            uint32_t q = st >= 255 ? 255 : st < 1 ? 1 : (uint32_t)st;
            while (q < 255 && (float)q * x->unit[t] < w) q++;
            if (!tmax[t]) touched[nt++] = t;
            if (q > tmax[t]) tmax[t] = (uint8_t)q;
        }
        for (uint32_t u = 0; u < nt; u++) {
            uint32_t t = touched[u];
            if (x->dense_at[t] != UINT32_MAX) x->dense[(size_t)x->dense_at[t] * n_blocks + j] = tmax[t];
            else x->sp_blk[fill[t]] = j, x->sp_max[fill[t]++] = tmax[t];
            tmax[t] = 0;
        }
    }
    x->bytes = (uint64_t)n_dense * n_blocks + n_sp * 5 + (uint64_t)T * 16;
    rc = 0;
done:
    free(cnt), free(mark), free(tmax), free(touched), free(fill);
    return rc;
}

/* The segment's block-max tables, derived at the first call; NULL when out of memory. */
static sp_bmp *bmp_get(const sp_seg *cs) {
    sp_seg *s = (sp_seg *)cs; /* the lock and the derived tables are not the segment's value */
    pthread_mutex_lock(&s->bmp_lock);
    if (!s->bmp) {
        sp_bmp *m = calloc(1, sizeof *m);
        if (m) {
            pthread_mutex_init(&m->lock, NULL);
            m->n_blocks = (uint32_t)(((uint64_t)s->n_docs + SP_BMP_BLOCK_DOCS - 1) / SP_BMP_BLOCK_DOCS);
            if (side_build(s, m->n_blocks, 0, &m->side[0]) ||
                (s->has_negative && side_build(s, m->n_blocks, 1, &m->side[1])))
                silt_spbmp_free(m), m = NULL;
        }
        s->bmp = m;
    }
    sp_bmp *m = s->bmp;
    pthread_mutex_unlock(&s->bmp_lock);
    return m;
}

static bmp_work *work_new(const sp_seg *s, const sp_bmp *m) {
    bmp_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->ub = malloc(((size_t)m->n_blocks + 1) * sizeof *w->ub);
    w->taken = malloc(((size_t)m->n_blocks + 1) * sizeof *w->taken);
    w->sorted = malloc(((size_t)m->n_blocks + 1) * sizeof *w->sorted);
    w->qloc = calloc((size_t)s->n_terms + 1, sizeof *w->qloc);
    w->qc = calloc((size_t)s->n_terms + 1, sizeof *w->qc);
    if (!w->ub || !w->taken || !w->sorted || !w->qloc || !w->qc) work_free(w), w = NULL;
    return w;
}

/* ub[j] += c x d[j], j < n: a frequent term's share of the bounds, over every block of a chunk. */
#ifdef __x86_64__
__attribute__((target("avx2,fma"))) static void add_dense_avx2(float *ub, const uint8_t *d, float c, uint32_t n) {
    __m256 vc = _mm256_set1_ps(c);
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(d + j))));
        _mm256_storeu_ps(ub + j, _mm256_fmadd_ps(vc, f, _mm256_loadu_ps(ub + j)));
    }
    for (; j < n; j++) ub[j] += c * (float)d[j];
}
#endif

static void add_dense(float *ub, const uint8_t *d, float c, uint32_t n) {
#ifdef __x86_64__
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        add_dense_avx2(ub, d, c, n);
        return;
    }
#endif
    for (uint32_t j = 0; j < n; j++) ub[j] += c * (float)d[j];
}

/* A query term of the segment: local number, weight, and its side's step x |weight|. */
typedef struct {
    uint32_t lt;
    float w, c;
} bterm;

/* Asks for the fwd_first entries of block j (a few blocks ahead of the one scored). */
static inline void prefetch_first(const sp_seg *s, uint32_t j) {
    __builtin_prefetch(&s->fwd_first[block_start(s, j)]);
    __builtin_prefetch(&s->fwd_first[block_start(s, j + 1)]);
}

/* Asks for block j's term numbers and int8 weights (one contiguous run each). */
static inline void prefetch_block(const sp_seg *s, uint32_t j) {
    uint64_t i0 = s->fwd_first[block_start(s, j)], i1 = s->fwd_first[block_start(s, j + 1)];
    const char *p = (const char *)s->fwd_ids + i0 * s->id_bytes, *e = (const char *)s->fwd_ids + i1 * s->id_bytes;
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p);
    p = (const char *)(s->fwd_q + i0), e = (const char *)(s->fwd_q + i1);
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p);
}

/* Document d's score from its int8 weights (qc = query weight x impact scale); *e bounds
 * |this - exact|: half an impact unit per shared term (as the segment's rescoring), plus the
 * float rounding of n terms summed four ways (each term at most 127 units); 0 exactly when d
 * shares no query term (as the segment's rescoring decides it). Four sums: one would be a
 * chain of dependent additions. */
static inline float approx(const sp_seg *s, uint32_t d, const float *qc, float *e) {
    uint64_t i = s->fwd_first[d], i1 = s->fwd_first[d + 1];
    const int8_t *iq = s->fwd_q;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
    if (s->id_bytes == 2) {
        const uint16_t *id = s->fwd_ids;
        for (; i + 4 <= i1; i += 4) {
            float c0 = qc[id[i]], c1 = qc[id[i + 1]], c2 = qc[id[i + 2]], c3 = qc[id[i + 3]];
            a0 += c0 * iq[i], a1 += c1 * iq[i + 1], a2 += c2 * iq[i + 2], a3 += c3 * iq[i + 3];
            e0 += fabsf(c0), e1 += fabsf(c1), e2 += fabsf(c2), e3 += fabsf(c3);
        }
        for (; i < i1; i++) a0 += qc[id[i]] * iq[i], e0 += fabsf(qc[id[i]]);
    } else {
        const uint32_t *id = s->fwd_ids;
        for (; i < i1; i++) a0 += qc[id[i]] * iq[i], e0 += fabsf(qc[id[i]]);
    }
    float ea = (e0 + e1) + (e2 + e3);
    float n = (float)(i1 - s->fwd_first[d]);
    *e = ea * (0.5f + 127 * 1e-5f + 127 * 1.2e-7f * (n / 4 + 4)) * (1 + 1.2e-7f * (n + 4));
    return (a0 + a1) + (a2 + a3);
}

#define N_BUCKETS 1024

int silt_spbmp_search(const sp_seg *s, const sp_query *q, const uint64_t *allow, double alpha,
                      sp_heap *h, char **err) {
    if (h->k == 0 || s->n_docs == s->n_dead) return 0;
    sp_bmp *m = bmp_get(s);
    if (!m) return silt_err(err, "out of memory deriving block maxima for a sparse segment of %u documents", s->n_docs);
    int owned = 1;
    bmp_work *w = NULL;
    if (pthread_mutex_trylock(&m->lock) == 0) {
        if (!m->work) m->work = work_new(s, m);
        if (m->work) w = m->work, owned = 0;
        else pthread_mutex_unlock(&m->lock);
    }
    if (!w) w = work_new(s, m);
    bterm *qt = malloc(((size_t)q->n + 1) * sizeof *qt);
    uint64_t *spos = malloc(((size_t)q->n + 1) * sizeof *spos);
    int rc = -1;
    uint32_t nq = 0;
    if (!w || !qt || !spos) {
        silt_err(err, "out of memory in a sparse search over %u documents", s->n_docs);
        goto done;
    }
    for (uint32_t i = 0; i < q->n; i++) {
        int64_t lt = silt_spseg_local_term(s, q->ids[i]);
        if (lt < 0) continue;
        int neg = q->w[i] < 0;
        /* A term of either sign adds at most |q| x the block's largest weight of q's sign (0
         * when none): with no negative weight in the segment, a negative query term adds <= 0. */
        const bmp_side *x = &m->side[neg];
        qt[nq].lt = (uint32_t)lt, qt[nq].w = q->w[i];
        qt[nq].c = neg && !s->has_negative ? 0 : fabsf(q->w[i]) * x->unit[lt];
        w->qloc[lt] = q->w[i], w->qc[lt] = q->w[i] * s->scale[lt];
        nq++;
    }
    if (nq == 0) {
        rc = 0;
        goto done;
    }
    const uint32_t NB = m->n_blocks;
    float *ub = w->ub;
    /* Bounds a chunk of blocks at a time, every term over the chunk (sparse lists through a
     * cursor each), so that the chunk's bounds stay in L1 while all terms add to them. */
    enum { CHUNK = 8192 };
    for (uint32_t i = 0; i < nq; i++) spos[i] = qt[i].c != 0 ? m->side[qt[i].w < 0].sp_off[qt[i].lt] : 0;
    /* While a chunk's bounds are in cache, the blocks reaching half the largest bound so far
     * are noted: a superset of the first round's blocks (half the final largest), which the
     * first round filters instead of scanning every bound again. */
    float top = 0;
    uint32_t n_pre = 0;
    for (uint32_t c0 = 0; c0 < NB; c0 += CHUNK) {
        uint32_t c1 = NB - c0 > CHUNK ? c0 + CHUNK : NB;
        memset(ub + c0, 0, (size_t)(c1 - c0) * sizeof *ub);
        for (uint32_t i = 0; i < nq; i++) {
            if (qt[i].c == 0) continue;
            const bmp_side *x = &m->side[qt[i].w < 0];
            uint32_t t = qt[i].lt;
            float c = qt[i].c;
            if (x->dense_at[t] != UINT32_MAX) {
                add_dense(ub + c0, x->dense + (size_t)x->dense_at[t] * NB + c0, c, c1 - c0);
            } else {
                uint64_t j = spos[i], e = x->sp_off[t + 1];
                for (; j < e && x->sp_blk[j] < c1; j++) ub[x->sp_blk[j]] += c * (float)x->sp_max[j];
                spos[i] = j;
            }
        }
        for (uint32_t j = c0; j < c1; j++) top = ub[j] > top ? ub[j] : top;
        float half = top * 0.5f;
        for (uint32_t j = c0; j < c1; j++)
            if (ub[j] >= half && ub[j] > 0) w->taken[n_pre++] = j;
    }
    /* Bounds are sums of float products of numbers each rounded up: this slack covers the
     * rounding of the sums (a relative error far below 1e-5 for any query length we take). */
    const double slack = 1 + 1e-5 * (1 + nq / 64.0);
    /* Blocks are taken in rounds: first those whose bound is at least half the largest,
     * bucketed by bound and scored best first; only when they run out before the stopping
     * rule does the next round take every block the rule still allows (all of them while
     * fewer than k documents were found: an exhaustive, hence exact, end). Bucketing every
     * block would cost more than scoring the few that matter. */
    double lo = top > 0 ? top * 0.5 : -INFINITY, hi = INFINITY;
    for (int round = 0;; round++) {
        uint32_t n_take = 0;
        if (round == 0 && top > 0) {
            for (uint32_t i = 0; i < n_pre; i++)
                if (ub[w->taken[i]] >= lo) w->taken[n_take++] = w->taken[i];
        } else {
            for (uint32_t j = 0; j < NB; j++)
                if (ub[j] >= lo && ub[j] < hi) w->taken[n_take++] = j;
        }
        double span_lo = lo > 0 ? lo : 0, span_hi = hi < top ? hi : top;
        double width = (span_hi - span_lo) / N_BUCKETS;
        if (!(width > 0)) width = 1;
        uint32_t bstart[N_BUCKETS + 1] = {0}, fill[N_BUCKETS];
        for (uint32_t i = 0; i < n_take; i++) {
            double f = (ub[w->taken[i]] - span_lo) / width;
            uint32_t bk = f >= N_BUCKETS - 1 ? N_BUCKETS - 1 : f > 0 ? (uint32_t)f : 0;
            bstart[bk + 1]++;
        }
        for (uint32_t i = 0; i < N_BUCKETS; i++) bstart[i + 1] += bstart[i];
        memcpy(fill, bstart, sizeof fill);
        for (uint32_t i = 0; i < n_take; i++) {
            uint32_t j = w->taken[i];
            double f = (ub[j] - span_lo) / width;
            uint32_t bk = f >= N_BUCKETS - 1 ? N_BUCKETS - 1 : f > 0 ? (uint32_t)f : 0;
            w->sorted[fill[bk]++] = j;
        }
        int stopped = 0;
        /* sorted[] ascends by bucket: walk it backwards, fetching blocks a few steps ahead. */
        for (uint32_t oi = n_take; oi-- > 0;) {
            if (oi >= 8) prefetch_first(s, w->sorted[oi - 8]);
            if (oi >= 4) prefetch_block(s, w->sorted[oi - 4]);
            uint32_t j = w->sorted[oi];
            if (h->n == h->k) {
                double theta = h->score[0];
                double f = (ub[j] - span_lo) / width;
                uint32_t bk = f >= N_BUCKETS - 1 ? N_BUCKETS - 1 : f > 0 ? (uint32_t)f : 0;
                /* No block left in this round may reach the k-th best: stop. A bucket's top is
                 * its upper edge (the last bucket's is the round's largest bound). */
                double edge = bk == N_BUCKETS - 1 ? span_hi : span_lo + (bk + 1) * width;
                if (alpha * edge * slack < theta) {
                    stopped = 1;
                    break;
                }
                if (alpha * ub[j] * slack < theta) continue;
            }
            for (uint32_t d = block_start(s, j), d1 = block_start(s, j + 1); d < d1; d++) {
                if (silt_spseg_is_dead(s, d) || (allow && !((allow[d >> 6] >> (d & 63)) & 1))) continue;
                float e;
                float a = approx(s, d, w->qc, &e);
                if (e == 0) continue; /* no query term */
                if (h->n == h->k && (double)a + e < h->score[0]) continue;
                int sh;
                double sc = silt_spseg_score(s, d, w->qloc, &sh);
                if (sh) silt_sp_heap_push(h, sc, s->rowids[d]);
            }
        }
        if (stopped || lo == -INFINITY) break;
        /* The round ran out: next, every block below it that the rule still allows. */
        hi = lo;
        lo = h->n == h->k ? h->score[0] / (alpha * slack) : -INFINITY;
        if (lo >= hi) break;
    }
    rc = 0;
done:
    if (w)
        for (uint32_t i = 0; i < nq; i++) w->qloc[qt[i].lt] = 0, w->qc[qt[i].lt] = 0;
    if (owned) work_free(w);
    else pthread_mutex_unlock(&m->lock);
    free(qt), free(spos);
    return rc;
}
