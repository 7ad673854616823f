/* bmp_proto.c: a stand-alone prototype of Block-Max Pruning (Mallia, Suel, Tonellotto, SIGIR
 * 2024) on bench_sparse.c's synthetic SPLADE-like collection, measured against the exact and
 * the current fast mode of one segment (index/sparse_segment.h) in the same process,
 * interleaved per query.
 *
 *   bmp_proto [n_docs] [n_queries] [block sizes, e.g. 16,32,64] [alphas, e.g. 1,0.9,0.8]
 *             [query term fractions for the bounds, e.g. 1,0.5] [score: f = float, q = int8]
 *             [order: generated, or heavy = documents grouped by their heaviest term]
 *
 * BMP as built here: documents (the segment's local order) are cut into blocks of b
 * consecutive documents; per term, the largest weight of the term in every block, rounded up
 * to one of 255 steps of the term's largest weight (u8), kept as a dense array over all
 * blocks for terms present in at least a quarter of them, else as (block, u8) pairs. A query
 * first sums q_t x blockmax_t over its terms into an upper bound per block, buckets the
 * blocks by bound (1,024 buckets below the largest, no sort), then scores whole blocks,
 * best bucket first, from the segment's forward index (consecutive documents are contiguous
 * there) until alpha x the next bound cannot beat the k-th best score (alpha in (0, 1] as in
 * the paper: a block is scored while alpha x bound >= the k-th best). alpha 1 with every
 * query term in the bounds is exact. A term fraction below 1 is BMP's query term pruning: only
 * the heaviest terms (by q x max weight) enter the bounds; blocks are still scored with all.
 * Blocks are scored first from the int8 forward weights with an error bound, and exactly
 * from the float weights only where that bound reaches the k-th best, as the fast mode does. Only positive weights are handled (the collection has no
 * other), which the integration would have to extend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>

#include "bench/sparse/synth.h"
#include "index/sparse_segment.h"

#define N_BUCKETS 1024

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) fprintf(stderr, "out of memory (%zu bytes)\n", n), exit(1);
    return p;
}
static void *xcalloc(size_t n, size_t m) {
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) fprintf(stderr, "out of memory (%zu x %zu bytes)\n", n, m), exit(1);
    return p;
}

/* The generated documents, CSR, handed to the segment builder. */
typedef struct {
    uint64_t *first;
    uint32_t *ids;
    float *w;
} csr;

/* Local order of the documents: perm[i] is the generated document placed at i. */
static uint32_t *perm;

static int csr_get(void *ctx, uint32_t li, sp_doc *doc, char **err) {
    (void)err;
    const csr *c = ctx;
    uint32_t i = perm[li];
    doc->rowid = (int64_t)i + 1;
    doc->n = (uint32_t)(c->first[i + 1] - c->first[i]);
    doc->ids = c->ids + c->first[i];
    doc->w = c->w + c->first[i];
    return 0;
}

/* Block-max lists of one segment for one block size. */
typedef struct {
    uint32_t b, n_blocks;
    float *unit;        /* [n_terms] weight of one block-max step: the term's max weight / 255 */
    uint8_t **dense;    /* [n_terms] per-block maxima over all blocks, or NULL */
    uint64_t *sp_off;   /* [n_terms + 1] start of the term's (block, max) pairs */
    uint32_t *sp_blk;   /* blocks holding the term, ascending */
    uint8_t *sp_max;    /* the term's maximum in them */
    uint64_t bytes;
} bmp;

static inline uint32_t fid(const sp_seg *s, uint64_t i) {
    return s->id_bytes == 2 ? ((const uint16_t *)s->fwd_ids)[i] : ((const uint32_t *)s->fwd_ids)[i];
}

static bmp *bmp_build(const sp_seg *s, uint32_t b) {
    bmp *m = xcalloc(1, sizeof *m);
    uint32_t T = s->n_terms;
    m->b = b, m->n_blocks = (s->n_docs + b - 1) / b;
    float *maxw = xcalloc(T, sizeof *maxw);
    for (uint64_t i = 0; i < s->fwd_first[s->n_docs]; i++) {
        uint32_t t = fid(s, i);
        if (s->fwd_w[i] > maxw[t]) maxw[t] = s->fwd_w[i];
    }
    m->unit = xmalloc(T * sizeof *m->unit);
    for (uint32_t t = 0; t < T; t++) m->unit[t] = maxw[t] > 0 ? maxw[t] / 255.0f : 1;
    uint32_t *cnt = xcalloc(T, sizeof *cnt), *mark = xcalloc(T, sizeof *mark);
    uint8_t *tmax = xcalloc(T, 1);
    uint32_t *touched = xmalloc(T * sizeof *touched);
    for (uint32_t blk = 0; blk < m->n_blocks; blk++) {
        uint64_t i0 = s->fwd_first[blk * b], i1 = s->fwd_first[(blk + 1) * b < s->n_docs ? (blk + 1) * b : s->n_docs];
        for (uint64_t i = i0; i < i1; i++) {
            uint32_t t = fid(s, i);
            if (s->fwd_w[i] > 0 && mark[t] != blk + 1) mark[t] = blk + 1, cnt[t]++;
        }
    }
    m->dense = xcalloc(T, sizeof *m->dense);
    m->sp_off = xcalloc(T + 1, sizeof *m->sp_off);
    for (uint32_t t = 0; t < T; t++) {
        int dense = (uint64_t)cnt[t] * 4 >= m->n_blocks;
        if (dense) m->dense[t] = xcalloc(m->n_blocks, 1), m->bytes += m->n_blocks;
        m->sp_off[t + 1] = m->sp_off[t] + (dense ? 0 : cnt[t]);
    }
    uint64_t n_sp = m->sp_off[T];
    m->sp_blk = xmalloc(n_sp * sizeof *m->sp_blk);
    m->sp_max = xmalloc(n_sp);
    m->bytes += n_sp * 5 + T * (sizeof(float) + sizeof(void *) + 8);
    uint64_t *fill = xmalloc(T * sizeof *fill);
    memcpy(fill, m->sp_off, T * sizeof *fill);
    for (uint32_t blk = 0; blk < m->n_blocks; blk++) {
        uint64_t i0 = s->fwd_first[blk * b], i1 = s->fwd_first[(blk + 1) * b < s->n_docs ? (blk + 1) * b : s->n_docs];
        uint32_t nt = 0;
        for (uint64_t i = i0; i < i1; i++) {
            uint32_t t = fid(s, i);
            float w = s->fwd_w[i];
            if (!(w > 0)) continue;
            /* Rounded up: unit x step never below the weight. */
            float st = ceilf(w / m->unit[t]);
            uint8_t q = st >= 255 ? 255 : (uint8_t)st;
            if (q == 0) q = 1;
            while ((float)q * m->unit[t] < w && q < 255) q++;
            if (!tmax[t]) touched[nt++] = t;
            if (q > tmax[t]) tmax[t] = q;
        }
        for (uint32_t j = 0; j < nt; j++) {
            uint32_t t = touched[j];
            if (m->dense[t]) m->dense[t][blk] = tmax[t];
            else m->sp_blk[fill[t]] = blk, m->sp_max[fill[t]++] = tmax[t];
            tmax[t] = 0;
        }
    }
    free(maxw), free(cnt), free(mark), free(tmax), free(touched), free(fill);
    return m;
}

/* ub[j] += c x d[j] for j < n: the frequent query terms' share of the bounds, a pass over
 * every block; AVX2 when the CPU has it (8 blocks per instruction), else scalar. */
__attribute__((target("avx2,fma"))) static void ub_add_dense_avx2(float *ub, const uint8_t *d, float c,
                                                                 uint32_t n) {
    __m256 vc = _mm256_set1_ps(c);
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m128i b8 = _mm_loadl_epi64((const __m128i *)(d + j));
        __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b8));
        _mm256_storeu_ps(ub + j, _mm256_fmadd_ps(vc, f, _mm256_loadu_ps(ub + j)));
    }
    for (; j < n; j++) ub[j] += c * (float)d[j];
}

static int use_avx2 = -1;

static void ub_add_dense(float *ub, const uint8_t *d, float c, uint32_t n) {
    if (use_avx2 < 0) use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (use_avx2) {
        ub_add_dense_avx2(ub, d, c, n);
        return;
    }
    for (uint32_t j = 0; j < n; j++) ub[j] += c * (float)d[j];
}

/* Per-search work arrays, zero between searches where noted. */
typedef struct {
    float *qloc;       /* [n_terms] query weight by local term (zero between searches) */
    float *qc;         /* [n_terms] query weight x impact scale (zero between searches) */
    float *ub;         /* [n_blocks of the largest b] */
    uint32_t *order;   /* [same] blocks taken in a round */
    uint32_t *sorted;  /* [same] the same, bucketed by bound */
} work;

typedef struct {
    uint32_t lt;
    float w, reach;
} qterm;

/* Asks for the fwd_first entries of block blk (the block a few steps ahead). */
static inline void prefetch_first(const sp_seg *s, uint32_t blk, uint32_t b) {
    __builtin_prefetch(&s->fwd_first[(uint64_t)blk * b]);
    __builtin_prefetch(&s->fwd_first[(uint64_t)blk * b + b]);
}

/* Asks for block blk's term numbers and weights (one contiguous run per array). */
static inline void prefetch_block(const sp_seg *s, uint32_t blk, uint32_t b, int score_q) {
    uint64_t d0 = (uint64_t)blk * b, d1 = d0 + b < s->n_docs ? d0 + b : s->n_docs;
    uint64_t i0 = s->fwd_first[d0], i1 = s->fwd_first[d1];
    const char *p = (const char *)((const uint16_t *)s->fwd_ids + i0), *e = (const char *)((const uint16_t *)s->fwd_ids + i1);
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p);
    if (score_q) p = (const char *)(s->fwd_q + i0), e = (const char *)(s->fwd_q + i1);
    else p = (const char *)(s->fwd_w + i0), e = (const char *)(s->fwd_w + i1);
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p);
}

static int cmp_reach(const void *a, const void *b) {
    const qterm *x = a, *y = b;
    return x->reach > y->reach ? -1 : x->reach < y->reach;
}

static int64_t local_term(const sp_seg *s, uint32_t id) {
    uint32_t lo = 0, hi = s->n_terms;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->term_ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->n_terms && s->term_ids[lo] == id ? (int64_t)lo : -1;
}

typedef struct {
    uint64_t blocks, docs, exact_scored;
    double ms_dense, ms_bucket, ms_score; /* time per phase (bounds, selecting, scoring), summed over queries */
    double terms_per_block; /* sum over queries: mean query terms present in a block */
    double ub_over_theta;   /* sum over queries: median block bound / final k-th score */
    double top_over_theta;  /* sum over queries: largest block bound / final k-th score */
} counters;

/* Block counts per term (blocks holding it): for the terms-per-block diagnostic. */
static uint64_t term_blocks(const bmp *m, uint32_t t) {
    if (!m->dense[t]) return m->sp_off[t + 1] - m->sp_off[t];
    uint64_t n = 0;
    for (uint32_t j = 0; j < m->n_blocks; j++) n += m->dense[t][j] != 0;
    return n;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* BMP search of one segment into h. frac: share of the query terms (heaviest reach first)
 * that enter the block bounds. score_q: first-stage block scoring from the int8 forward
 * weights (error-bounded), else from the float weights. */
static void bmp_search(const sp_seg *s, const bmp *m, const sp_query *q, double alpha, double frac,
                       int score_q, int diag, work *w, sp_heap *h, counters *ct) {
    qterm qt[256];
    uint32_t nq = 0;
    for (uint32_t i = 0; i < q->n && nq < 256; i++) {
        int64_t lt = local_term(s, q->ids[i]);
        if (lt < 0) continue;
        qt[nq].lt = (uint32_t)lt, qt[nq].w = q->w[i], qt[nq].reach = q->w[i] * m->unit[lt];
        w->qloc[lt] = q->w[i], w->qc[lt] = q->w[i] * s->scale[lt];
        nq++;
    }
    qsort(qt, nq, sizeof *qt, cmp_reach);
    uint32_t n_ub = (uint32_t)ceil(frac * nq);
    if (n_ub < 1) n_ub = nq ? 1 : 0;
    const uint32_t NB = m->n_blocks;
    float *ub = w->ub;
    double tp0 = now_s();
    double err_q = 0;
    for (uint32_t i = 0; i < nq; i++) err_q += fabs((double)w->qc[qt[i].lt]) * (0.5 + 127 * 1e-5);
    /* Bounds a chunk of blocks at a time (every term over the chunk, sparse lists through a
     * cursor each), so that the chunk's bounds stay in L1 while all terms add to them. */
    enum { CH = 8192 };
    uint64_t spos[256];
    for (uint32_t i = 0; i < n_ub; i++) spos[i] = m->sp_off[qt[i].lt];
    float top = 0;
    for (uint32_t c0 = 0; c0 < NB; c0 += CH) {
        uint32_t c1 = NB - c0 > CH ? c0 + CH : NB;
        memset(ub + c0, 0, (c1 - c0) * sizeof *ub);
        for (uint32_t i = 0; i < n_ub; i++) {
            uint32_t t = qt[i].lt;
            float c = qt[i].reach;
            if (m->dense[t]) {
                ub_add_dense(ub + c0, m->dense[t] + c0, c, c1 - c0);
            } else {
                uint64_t j = spos[i], e = m->sp_off[t + 1];
                for (; j < e && m->sp_blk[j] < c1; j++) ub[m->sp_blk[j]] += c * (float)m->sp_max[j];
                spos[i] = j;
            }
        }
        for (uint32_t j = c0; j < c1; j++) top = ub[j] > top ? ub[j] : top;
    }
    double tp1 = now_s();
    ct->ms_dense += (tp1 - tp0) * 1e3;
    if (!(top > 0)) goto clear;
    const double slack = 1 + 1e-5; /* float rounding of the bounds */
    double t_sel = 0, t_score = 0;
    /* Blocks are taken in rounds: first those with a bound of at least half the largest
     * (bucketed by bound, best first); only when they run out before the stopping rule does
     * a second round take every block the rule still allows. A full bucketing of all blocks
     * cost more than scoring the few that matter. */
    float lo = top * 0.5f, hi = INFINITY;
    for (;;) {
        double ts = now_s();
        uint32_t n_sel = 0;
        for (uint32_t j = 0; j < NB; j++)
            if (ub[j] >= lo && ub[j] < hi && ub[j] > 0) w->order[n_sel++] = j;
        float span_top = hi < top ? hi : top;
        float width = (span_top - lo) / N_BUCKETS;
        if (!(width > 0)) width = 1e-30f;
        uint32_t bstart[N_BUCKETS + 1] = {0};
        for (uint32_t i = 0; i < n_sel; i++) {
            uint32_t bk = (uint32_t)((ub[w->order[i]] - lo) / width);
            bstart[(bk >= N_BUCKETS ? N_BUCKETS - 1 : bk) + 1]++;
        }
        for (uint32_t i = 0; i < N_BUCKETS; i++) bstart[i + 1] += bstart[i];
        uint32_t pos[N_BUCKETS];
        memcpy(pos, bstart, sizeof pos);
        for (uint32_t i = 0; i < n_sel; i++) {
            uint32_t blk = w->order[i], bk = (uint32_t)((ub[blk] - lo) / width);
            w->sorted[pos[bk >= N_BUCKETS ? N_BUCKETS - 1 : bk]++] = blk;
        }
        double tsc = now_s();
        t_sel += tsc - ts;
        int stopped = 0;
        /* Best bucket first: sorted[] is ascending by bucket, so walk it backwards. */
        for (uint32_t oi = n_sel; oi-- > 0;) {
            if (oi >= 8) prefetch_first(s, w->sorted[oi - 8], m->b);
            if (oi >= 4) prefetch_block(s, w->sorted[oi - 4], m->b, score_q);
            uint32_t blk = w->sorted[oi];
            double theta = h->n == h->k ? h->score[0] : -INFINITY;
            uint32_t bk = (uint32_t)((ub[blk] - lo) / width);
            if (bk >= N_BUCKETS) bk = N_BUCKETS - 1;
            if (alpha * (lo + (bk + 1) * (double)width) * slack < theta) {
                stopped = 1;
                break;
            }
            if (alpha * ub[blk] * slack < theta) continue;
            ct->blocks++;
            uint32_t d0 = blk * m->b, d1 = d0 + m->b < s->n_docs ? d0 + m->b : s->n_docs;
            for (uint32_t d = d0; d < d1; d++) {
                if (silt_spseg_is_dead(s, d)) continue;
                uint64_t i0 = s->fwd_first[d], i1 = s->fwd_first[d + 1];
                const uint16_t *id = (const uint16_t *)s->fwd_ids;
                float a = 0, ea = 0;
                if (score_q) {
                    /* Four sums: one would be a chain of dependent additions. */
                    const int8_t *iq = s->fwd_q;
                    float a0 = 0, a1 = 0, a2 = 0, a3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
                    uint64_t i = i0;
                    for (; i + 4 <= i1; i += 4) {
                        float c0 = w->qc[id[i]], c1 = w->qc[id[i + 1]], c2 = w->qc[id[i + 2]],
                              c3 = w->qc[id[i + 3]];
                        a0 += c0 * iq[i], a1 += c1 * iq[i + 1], a2 += c2 * iq[i + 2], a3 += c3 * iq[i + 3];
                        e0 += fabsf(c0), e1 += fabsf(c1), e2 += fabsf(c2), e3 += fabsf(c3);
                    }
                    for (; i < i1; i++) {
                        float c = w->qc[id[i]];
                        a0 += c * iq[i], e0 += fabsf(c);
                    }
                    a = (a0 + a1) + (a2 + a3), ea = (e0 + e1) + (e2 + e3);
                    ea = ea * 0.5f + 1e-4f * fabsf(a) + 1e-6f;
                } else {
                    const float *fw = s->fwd_w;
                    for (uint64_t i = i0; i < i1; i++) {
                        float c = w->qloc[id[i]];
                        a += c * fw[i], ea += fabsf(c);
                    }
                    ea = ea > 0 ? 1e-4f * fabsf(a) + 1e-6f : 0;
                }
                ct->docs++;
                if (ea == 0) continue; /* no query term */
                if (h->n == h->k && (double)a + ea < h->score[0]) continue;
                int sh;
                double sc = silt_spseg_score(s, d, w->qloc, &sh);
                ct->exact_scored++;
                if (sh) silt_sp_heap_push(h, sc, s->rowids[d]);
            }
        }
        t_score += now_s() - tsc;
        if (stopped || lo <= 0) break;
        /* The round ran out: next, every block below it that the rule still allows. */
        hi = lo;
        double need = h->n == h->k ? h->score[0] / (alpha * slack) : 0;
        lo = need > 0 ? (float)need : 0;
        if (lo >= hi) break;
    }
    ct->ms_bucket += t_sel * 1e3, ct->ms_score += t_score * 1e3;
clear:
    if (diag && h->n == h->k && h->score[0] > 0) {
        uint64_t pairs = 0;
        for (uint32_t i = 0; i < n_ub; i++) pairs += term_blocks(m, qt[i].lt);
        ct->terms_per_block += (double)pairs / NB;
        qsort(ub, NB, sizeof *ub, cmp_f);
        ct->ub_over_theta += ub[NB / 2] / h->score[0];
        ct->top_over_theta += ub[NB - 1] / h->score[0];
    }
    for (uint32_t i = 0; i < nq; i++) w->qloc[qt[i].lt] = 0, w->qc[qt[i].lt] = 0;
    (void)err_q;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    char name[64];
    int kind;       /* 0 exact, 1 current fast, 2 bmp */
    sp_search_opts o;
    uint32_t bi;    /* bmp index */
    double alpha, frac;
    int score_q;
    counters ct;
} setting;

static uint32_t parse_list(const char *s, double *out, uint32_t cap) {
    uint32_t n = 0;
    while (s && *s && n < cap) {
        out[n++] = atof(s);
        s = strchr(s, ',');
        if (s) s++;
    }
    return n;
}

int main(int argc, char **argv) {
    uint32_t n_docs = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
    uint32_t n_q = argc > 2 ? (uint32_t)atol(argv[2]) : 1000;
    double bs[8], alphas[16], fracs[8];
    uint32_t n_b = parse_list(argc > 3 ? argv[3] : "16,32,64", bs, 8);
    uint32_t n_a = parse_list(argc > 4 ? argv[4] : "1,0.9,0.8,0.7", alphas, 16);
    uint32_t n_f = parse_list(argc > 5 ? argv[5] : "1", fracs, 8);
    int score_q = argc > 6 ? argv[6][0] == 'q' : 1;

    uint64_t s;
    synth_init(&s);
    uint8_t *mark = xcalloc(VOCAB, 1);
    csr c;
    uint64_t cap = (uint64_t)n_docs * 180;
    c.first = xmalloc(((size_t)n_docs + 1) * sizeof *c.first);
    c.ids = xmalloc(cap * sizeof *c.ids), c.w = xmalloc(cap * sizeof *c.w);
    c.first[0] = 0;
    for (uint32_t d = 0; d < n_docs; d++) {
        uint32_t n = 60 + (uint32_t)(rng_next(&s) % 121);
        make_vec(&s, n, mark, c.ids + c.first[d], c.w + c.first[d]);
        c.first[d + 1] = c.first[d] + n;
    }
    sp_query *qs = xcalloc(n_q, sizeof *qs);
    for (uint32_t i = 0; i < n_q; i++) {
        uint32_t n = 20 + (uint32_t)(rng_next(&s) % 41);
        uint32_t *ids = xmalloc(n * 4);
        float *w = xmalloc(n * 4);
        make_vec(&s, n, mark, ids, w);
        qs[i] = (sp_query){n, ids, w};
    }
    /* Document order: as generated, or grouped by the heaviest term (then the second), a
     * cheap stand-in for BMP's graph-bisection reordering. */
    int reorder = argc > 7 && !strcmp(argv[7], "heavy");
    perm = xmalloc((size_t)n_docs * sizeof *perm);
    uint64_t *key = reorder ? xmalloc((size_t)n_docs * 2 * sizeof *key) : NULL;
    for (uint32_t d = 0; d < n_docs; d++) {
        perm[d] = d;
        if (!reorder) continue;
        uint32_t b1 = 0, b2 = 0;
        float w1 = -1, w2 = -1;
        for (uint64_t i = c.first[d]; i < c.first[d + 1]; i++) {
            if (c.w[i] > w1) b2 = b1, w2 = w1, b1 = c.ids[i], w1 = c.w[i];
            else if (c.w[i] > w2) b2 = c.ids[i], w2 = c.w[i];
        }
        key[2 * d] = (uint64_t)b1 << 40 | (uint64_t)b2 << 20 | 0, key[2 * d + 1] = d;
    }
    if (reorder) {
        qsort(key, n_docs, 2 * sizeof *key, cmp_u64);
        for (uint32_t d = 0; d < n_docs; d++) perm[d] = (uint32_t)key[2 * d + 1];
        free(key);
    }
    char *err = NULL;
    double t0 = now_s();
    sp_seg *seg = silt_spseg_build(csr_get, &c, n_docs, 64, 0.01f, &err);
    if (!seg) return fprintf(stderr, "%s\n", err), 1;
    printf("segment: %u docs, %.2f s to build (block_docs 64, prune 0.01), %.0f MB\n", n_docs,
           now_s() - t0, silt_spseg_bytes(seg) / 1e6);
    free(c.first), free(c.ids), free(c.w);
    if (seg->id_bytes != 2) return fprintf(stderr, "prototype assumes uint16 term numbers\n"), 1;

    bmp *bm[8];
    uint32_t maxnb = 0;
    for (uint32_t i = 0; i < n_b; i++) {
        t0 = now_s();
        bm[i] = bmp_build(seg, (uint32_t)bs[i]);
        uint32_t nd = 0;
        for (uint32_t t = 0; t < seg->n_terms; t++) nd += bm[i]->dense[t] != NULL;
        printf("block-max b=%u: %u blocks, %u dense terms, %.0f MB, built in %.2f s\n", bm[i]->b,
               bm[i]->n_blocks, nd, bm[i]->bytes / 1e6, now_s() - t0);
        if (bm[i]->n_blocks > maxnb) maxnb = bm[i]->n_blocks;
    }
    work w = {xcalloc(seg->n_terms, sizeof(float)), xcalloc(seg->n_terms, sizeof(float)),
              xcalloc(maxnb, sizeof(float)), xcalloc(maxnb, sizeof(uint32_t)), xcalloc(maxnb, sizeof(uint32_t))};

    setting *set = xcalloc(2 + n_a + (size_t)n_b * n_a * n_f, sizeof *set);
    size_t n_set = 0;
    set[n_set].kind = 0, set[n_set].o = (sp_search_opts){1, 1.0, 0, 0};
    snprintf(set[n_set++].name, 64, "exact");
    set[n_set].kind = 1, set[n_set].o = (sp_search_opts){0, 0.45, 8, 0};
    snprintf(set[n_set++].name, 64, "fast heap_factor=0.45 query_terms=8");
    /* The integrated version (index/sparse_bmp.c, 4-document blocks) at the same alphas. */
    for (uint32_t ai = 0; ai < n_a; ai++) {
        set[n_set].kind = 1, set[n_set].o = (sp_search_opts){0, 1.0, 0, alphas[ai]};
        snprintf(set[n_set++].name, 64, "index block_max=%.2f", alphas[ai]);
    }
    for (uint32_t bi = 0; bi < n_b; bi++)
        for (uint32_t fi = 0; fi < n_f; fi++)
            for (uint32_t ai = 0; ai < n_a; ai++) {
                setting *x = &set[n_set++];
                x->kind = 2, x->bi = bi, x->alpha = alphas[ai], x->frac = fracs[fi], x->score_q = score_q;
                snprintf(x->name, 64, "bmp b=%u alpha=%.2f terms=%.2f", bm[bi]->b, alphas[ai], fracs[fi]);
            }
    const uint32_t k = 10;
    double hs[10];
    int64_t hr[10];
    /* The index's block-max tables are derived at its first block_max search: not timed. */
    {
        sp_heap h = {hs, hr, 0, k};
        sp_search_opts o = {0, 1.0, 0, 1.0};
        t0 = now_s();
        if (silt_spseg_search(seg, &qs[0], NULL, &o, &h, &err)) return fprintf(stderr, "%s\n", err), 1;
        printf("index block-max tables derived in %.2f s\n", now_s() - t0);
    }
    /* Truth first (untimed): the exact top k of every query. */
    int64_t *truth = xcalloc((size_t)n_q * k, sizeof *truth);
    uint32_t *n_truth = xcalloc(n_q, sizeof *n_truth);
    for (uint32_t i = 0; i < n_q; i++) {
        sp_heap h = {hs, hr, 0, k};
        if (silt_spseg_search(seg, &qs[i], NULL, &set[0].o, &h, &err)) return fprintf(stderr, "%s\n", err), 1;
        n_truth[i] = h.n;
        memcpy(truth + (size_t)i * k, h.rowid, h.n * sizeof *truth);
    }
    /* Timed: at step i every setting runs once (so load hits all alike), each on a different
     * query, (i + si x stride) mod n_q: a query comes back only about n_q searches later, so
     * no setting finds the lists of its own query left in cache by another setting (settings
     * sharing one block size would otherwise all but the first run warm). */
    double *lat = xmalloc(n_set * n_q * sizeof *lat), *rec = xcalloc(n_set, sizeof *rec);
    uint32_t stride = n_q / (uint32_t)n_set ? n_q / (uint32_t)n_set : 1;
    for (uint32_t i = 0; i < n_q; i++) {
        for (size_t si = 0; si < n_set; si++) {
            uint32_t qi = (uint32_t)((i + si * stride) % n_q);
            sp_heap h = {hs, hr, 0, k};
            double a = now_s();
            if (set[si].kind < 2) {
                if (silt_spseg_search(seg, &qs[qi], NULL, &set[si].o, &h, &err))
                    return fprintf(stderr, "%s\n", err), 1;
            } else {
                bmp_search(seg, bm[set[si].bi], &qs[qi], set[si].alpha, set[si].frac, set[si].score_q,
                           0, &w, &h, &set[si].ct);
            }
            lat[si * n_q + i] = (now_s() - a) * 1e3;
            uint32_t got = 0;
            const int64_t *tr = truth + (size_t)qi * k;
            for (uint32_t j = 0; j < h.n; j++)
                for (uint32_t t = 0; t < n_truth[qi]; t++) got += h.rowid[j] == tr[t];
            rec[si] += n_truth[qi] ? (double)got / n_truth[qi] : 1;
        }
    }
    /* Why the bounds are loose (untimed): per block size, how many query terms a block holds
     * against a document, and the median and largest block bound over the final k-th score. */
    uint32_t *df = xcalloc(seg->n_terms, sizeof *df);
    for (uint64_t i = 0; i < seg->fwd_first[seg->n_docs]; i++) df[fid(seg, i)]++;
    double terms_per_doc = 0;
    uint32_t n_diag = n_q < 50 ? n_q : 50;
    for (uint32_t i = 0; i < n_diag; i++)
        for (uint32_t j = 0; j < qs[i].n; j++) {
            int64_t lt = local_term(seg, qs[i].ids[j]);
            if (lt >= 0) terms_per_doc += (double)df[lt] / n_docs;
        }
    printf("\ndiagnostics over %u queries: a document holds %.1f query terms on average\n", n_diag,
           terms_per_doc / n_diag);
    for (uint32_t bi = 0; bi < n_b; bi++) {
        counters dc = {0};
        for (uint32_t i = 0; i < n_diag; i++) {
            sp_heap h = {hs, hr, 0, k};
            bmp_search(seg, bm[bi], &qs[i], 1.0, 1.0, score_q, 1, &w, &h, &dc);
        }
        printf("  b=%u: a block holds %.1f query terms; block bound / final k-th score: median %.2f, "
               "largest %.2f\n", bm[bi]->b, dc.terms_per_block / n_diag, dc.ub_over_theta / n_diag,
               dc.top_over_theta / n_diag);
    }
    free(df);
    printf("\n%u queries, k = %u, block scoring from %s weights\n\n"
           "| setting | p50 ms | p99 ms | mean ms | recall@10 | speed-up (p50) | blocks/query | docs scored/query |"
           " mean ms: bounds / selecting / scoring |\n"
           "|---|---|---|---|---|---|---|---|---|\n",
           n_q, k, score_q ? "int8" : "float");
    double exact_p50 = 0;
    for (size_t si = 0; si < n_set; si++) {
        double *l = lat + si * n_q, mean = 0;
        for (uint32_t i = 0; i < n_q; i++) mean += l[i];
        mean /= n_q;
        qsort(l, n_q, sizeof *l, cmp_d);
        double p50 = l[n_q / 2], p99 = l[(size_t)(n_q * 0.99)];
        if (si == 0) exact_p50 = p50;
        printf("| %s | %.3f | %.3f | %.3f | %.4f | %.1fx |", set[si].name, p50, p99, mean, rec[si] / n_q,
               exact_p50 / p50);
        if (set[si].kind == 2)
            printf(" %.0f | %.0f (%.0f exact) | %.2f / %.2f / %.2f |\n", (double)set[si].ct.blocks / n_q,
                   (double)set[si].ct.docs / n_q, (double)set[si].ct.exact_scored / n_q, set[si].ct.ms_dense / n_q,
                   set[si].ct.ms_bucket / n_q, set[si].ct.ms_score / n_q);
        else printf(" | | |\n");
    }
    return 0;
}
