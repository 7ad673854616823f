/* sparse_bmp.c: Block-Max Pruning over one segment (after Mallia, Suel and Tonellotto, SIGIR
 * 2024), the fast search used when sp_search_opts.block_max is set.
 *
 * The segment's documents are cut into blocks of SP_BMP_BLOCK_DOCS consecutive local
 * documents. A term present in a sixteenth of the blocks or more (a frequent term) has a dense
 * u8 array over all blocks: the largest weight of the term in each block, rounded up to one of
 * 255 steps of the term's largest weight. Every other (rare) term has its postings: (local
 * document, u8 step of its weight). Negative weights get a second such table of the largest
 * -w, used for query terms of the other sign. The tables are derived from the forward index
 * at the first such search of a segment (not stored).
 *
 * A search sums |q_t| x step over its rare terms into an upper bound per document (scattered
 * postings), takes the largest of each block's documents, and adds |q_t| x step x blockmax of
 * its frequent terms (streamed rows): an upper bound per block, in 16-bit integer units of a
 * per-query scale (still an upper bound: see sat_add). It then scores blocks from the forward
 * index, largest bound first, while alpha x the bound can still reach the k-th best score;
 * within a block, only the documents whose own bound (their rare part + the block's frequent
 * part) can: alpha 1 gives the exact top k, lower trades recall for speed. Scoring is first
 * from the int8 weights with an error bound, and exactly from the float weights only where
 * that bound reaches the k-th best. Rare terms seldom meet twice in a block, so the block's
 * bound from per-document sums is the largest of its documents' rare parts where per-block
 * maxima would add them: on bench/sparse this scores ~27% fewer blocks and reads ~70% fewer
 * documents (bench/README.md, session 7).
 * On bench/sparse's collection (independent Zipf draws) the bounds of 4-document blocks
 * are tight enough and those of larger blocks are not (bench/README.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "core/err.h"
#include "core/hugepages.h"
#include "index/sparse_segment.h"

_Static_assert(SP_BMP_BLOCK_DOCS == 4, "sparse_bmp.c keeps a block's four per-document bounds in one 64-bit word");


/* One sign's block maxima. */
typedef struct {
    float *unit;        /* [n_terms] weight of one step: the term's largest weight / 255 */
    uint32_t *dense_at; /* [n_terms] row of the term in dense, or UINT32_MAX */
    uint8_t *dense;     /* [n_dense x n_blocks] per-block maxima of the frequent terms */
    uint64_t *sp_off;   /* [n_terms + 1] start of the rare terms' postings */
    uint32_t *sp_doc;   /* local documents holding the term, ascending */
    uint8_t *sp_step;   /* the term's weight there in steps, rounded up */
    uint64_t bytes;
} bmp_side;

/* Work arrays of one search (qloc and qc zero between searches). */
typedef struct {
    uint16_t *ub;     /* [n_blocks] bounds in the query's units (bound_units), 65535: saturated */
    uint16_t *rd;     /* [4 x n_blocks, padded] per document, its rare terms' part of ub */
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
    free(x->unit), free(x->dense_at), free(x->dense), free(x->sp_off), free(x->sp_doc), free(x->sp_step);
}

static void work_free(bmp_work *w) {
    if (!w) return;
    free(w->ub), free(w->rd), free(w->taken), free(w->sorted), free(w->qloc), free(w->qc);
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
    return m ? m->side[0].bytes + m->side[1].bytes + (uint64_t)m->n_blocks * 18 : 0;
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

/* Weight w > 0 in steps of unit, rounded up, and checked in float: unit x step is never
 * below w. */
static inline uint8_t step_of(float w, float unit) {
    float st = ceilf(w / unit);
    uint32_t q = st >= 255 ? 255 : st < 1 ? 1 : (uint32_t)st;
    while (q < 255 && (float)q * unit < w) q++;
    return (uint8_t)q;
}

/* Fills one side from the forward index; 0, or -1 when out of memory. */
static int side_build(const sp_seg *s, uint32_t n_blocks, int sign, bmp_side *x) {
    uint32_t T = s->n_terms;
    uint64_t n_post = s->fwd_first[s->n_docs];
    uint32_t *cnt = calloc((size_t)T + 1, sizeof *cnt), *mark = calloc((size_t)T + 1, sizeof *mark);
    uint32_t *dcnt = calloc((size_t)T + 1, sizeof *dcnt);
    uint8_t *tmax = calloc((size_t)T + 1, 1);
    uint32_t *touched = malloc(((size_t)T + 1) * sizeof *touched);
    uint64_t *fill = NULL;
    int rc = -1;
    x->unit = calloc((size_t)T + 1, sizeof *x->unit);
    x->dense_at = malloc(((size_t)T + 1) * sizeof *x->dense_at);
    x->sp_off = calloc((size_t)T + 1, sizeof *x->sp_off);
    if (!cnt || !dcnt || !mark || !tmax || !touched || !x->unit || !x->dense_at || !x->sp_off) goto done;
    for (uint64_t i = 0; i < n_post; i++) {
        uint32_t t = fwd_term(s, i);
        float w = side_w(s, i, sign);
        if (w > x->unit[t]) x->unit[t] = w; /* the largest weight for now */
    }
    for (uint32_t t = 0; t < T; t++) x->unit[t] = x->unit[t] > 0 ? x->unit[t] / 255.0f : 1.0f;
    /* Blocks (mark: last block seen + 1) and documents holding each term. */
    for (uint32_t j = 0; j < n_blocks; j++)
        for (uint64_t i = s->fwd_first[block_start(s, j)]; i < s->fwd_first[block_start(s, j + 1)]; i++) {
            uint32_t t = fwd_term(s, i);
            if (!(side_w(s, i, sign) > 0)) continue;
            dcnt[t]++;
            if (mark[t] != j + 1) mark[t] = j + 1, cnt[t]++;
        }
    uint32_t n_dense = 0;
    for (uint32_t t = 0; t < T; t++) {
        /* From a sixteenth of the blocks on, a dense row (1 byte a block, summed 16 blocks an
         * instruction) costs at most 3.2x the memory of pairs (5 bytes a pair) and less time
         * than scattering pairs into bounds held in L2 (bound_units): in one process on
         * bench/sparse, block_max 0.9 was 1.06x faster than with rows from an eighth, and rows
         * from a 32nd no faster than from a sixteenth. */
        int dense = (uint64_t)cnt[t] * 16 >= n_blocks && cnt[t] > 0;
        x->dense_at[t] = dense ? n_dense++ : UINT32_MAX;
        x->sp_off[t + 1] = x->sp_off[t] + (dense ? 0 : dcnt[t]);
    }
    uint64_t n_sp = x->sp_off[T];
    x->dense = calloc((size_t)n_dense * n_blocks + 1, 1);
    x->sp_doc = malloc((size_t)(n_sp + 1) * sizeof *x->sp_doc);
    x->sp_step = malloc((size_t)n_sp + 1);
    fill = malloc(((size_t)T + 1) * sizeof *fill);
    if (!x->dense || !x->sp_doc || !x->sp_step || !fill) goto done;
    /* Read at places spread over hundreds of MB: huge pages spare TLB misses, as for the
     * forward index (silt_advise_huge). */
    silt_advise_huge(x->dense, (size_t)n_dense * n_blocks + 1);
    silt_advise_huge(x->sp_doc, (size_t)(n_sp + 1) * sizeof *x->sp_doc);
    silt_advise_huge(x->sp_step, (size_t)n_sp + 1);
    memcpy(fill, x->sp_off, (size_t)T * sizeof *fill);
    for (uint32_t j = 0; j < n_blocks; j++) {
        uint32_t nt = 0;
        for (uint32_t d = block_start(s, j); d < block_start(s, j + 1); d++)
            for (uint64_t i = s->fwd_first[d]; i < s->fwd_first[d + 1]; i++) {
                uint32_t t = fwd_term(s, i);
                float w = side_w(s, i, sign);
                if (!(w > 0)) continue;
                uint8_t q = step_of(w, x->unit[t]);
                if (x->dense_at[t] == UINT32_MAX) {
                    x->sp_doc[fill[t]] = d, x->sp_step[fill[t]++] = q;
                    continue;
                }
                if (!tmax[t]) touched[nt++] = t;
                if (q > tmax[t]) tmax[t] = q;
            }
        for (uint32_t u = 0; u < nt; u++) {
            uint32_t t = touched[u];
            x->dense[(size_t)x->dense_at[t] * n_blocks + j] = tmax[t];
            tmax[t] = 0;
        }
    }
    x->bytes = (uint64_t)n_dense * n_blocks + n_sp * 5 + (uint64_t)T * 16;
    rc = 0;
done:
    free(cnt), free(dcnt), free(mark), free(tmax), free(touched), free(fill);
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

/* Entries of a per-document bound array: 4 a block (plus one block, so that it is never empty). */
static size_t rd_len(const sp_bmp *m) { return ((size_t)m->n_blocks + 1) * SP_BMP_BLOCK_DOCS; }

static bmp_work *work_new(const sp_seg *s, const sp_bmp *m) {
    bmp_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->ub = malloc(((size_t)m->n_blocks + 1) * sizeof *w->ub);
    w->rd = calloc(rd_len(m), sizeof *w->rd);
    w->taken = malloc(((size_t)m->n_blocks + 1) * sizeof *w->taken);
    w->sorted = malloc(((size_t)m->n_blocks + 1) * sizeof *w->sorted);
    w->qloc = calloc((size_t)s->n_terms + 1, sizeof *w->qloc);
    w->qc = calloc((size_t)s->n_terms + 1, sizeof *w->qc);
    if (!w->ub || !w->rd || !w->taken || !w->sorted || !w->qloc || !w->qc) work_free(w), w = NULL;
    return w;
}

/* Bounds in integers (idea: twice the SIMD lanes of floats and half the bytes): a query term
 * of step c (|q| x the step of its table) gets a = ceil(c x S x 256) for the query's scale S,
 * and a block's bound in units is the saturating sum of floor(m x a / 256) + 1 over the terms
 * present in the block (m > 0), m the block's step count: each term adds more than c x m x S,
 * so units / S bounds the true bound (sum of c x m). The + 1 only where the term is present
 * (a block holds ~16 of a query's ~40 terms on bench/sparse) rather than one unit per query
 * term for every block: bounds as tight as the u8 steps allow (a small gain, measured in
 * bench/README.md: blocks scored move with a fraction of a percent of the bounds).
 * Overflow: with x_i = c_i x S x 256, a term adds at most 255 a / 256 + 1 < x_i x 255/256 x
 * (1 + 1e-6) + 2, and S puts the sum of the x_i x 255/256 at 65,000 - 2 n for n terms
 * (bound_units), so a sum stays below 65,535 for up to 16,000 terms; a saturated sum (more
 * terms) still counts as an infinite bound. The largest bounds land at 11,000-31,000 units on
 * bench/sparse's queries. */
static inline uint16_t sat_add(uint16_t u, uint32_t m, uint32_t a) {
    uint32_t v = u + ((m * a) >> 8) + (m != 0);
    return v > 65535 ? 65535 : (uint16_t)v;
}

/* Units of a document in a block of bound ub_j whose documents' rare parts are r[0..3]
 * (lane: the document's place in the block): the block's frequent part, ub_j - max r, plus the
 * document's rare part; saturated (65535) where the block's sum is. */
static inline uint32_t doc_units(uint32_t ub_j, const uint16_t *r, uint32_t lane) {
    if (ub_j >= 65535) return 65535;
    uint32_t a = r[0] > r[1] ? r[0] : r[1], b = r[2] > r[3] ? r[2] : r[3];
    return ub_j - (a > b ? a : b) + r[lane];
}

/* Largest bound a block of u units may have. */
static inline double bound_of(uint32_t u, double inv_scale) { return u >= 65535 ? INFINITY : u * inv_scale; }

/* Dense terms summed per load and store of the bounds: with the bounds in L2 (bound_units), 8
 * was 1.09x faster than 4 in one process, and 16 no faster than 8. */
#define MAX_FUSED 8

/* ub[j] += floor(d_i[j] x a_i / 256), + 1 where d_i[j] > 0 (sat_add), saturating, for j < n
 * and n_d (<= MAX_FUSED) frequent terms: the sums loaded and stored once for them. */
#ifdef __x86_64__
__attribute__((target("avx2"))) static void add_dense_avx2(uint16_t *ub, const uint8_t *const *d, const uint16_t *a,
                                                            uint32_t n_d, uint32_t n) {
    __m256i va[MAX_FUSED];
    for (uint32_t t = 0; t < n_d; t++) va[t] = _mm256_set1_epi16((short)a[t]);
    const __m256i one = _mm256_set1_epi16(1);
    uint32_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256i acc = _mm256_loadu_si256((const __m256i *)(ub + j));
        for (uint32_t t = 0; t < n_d; t++) {
            /* (m << 8) x a >> 16 = m x a >> 8, and min(m, 1) the unit of a present term */
            __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(d[t] + j)));
            __m256i add = _mm256_adds_epu16(_mm256_mulhi_epu16(_mm256_slli_epi16(m, 8), va[t]), _mm256_min_epu16(m, one));
            acc = _mm256_adds_epu16(acc, add);
        }
        _mm256_storeu_si256((__m256i *)(ub + j), acc);
    }
    for (; j < n; j++)
        for (uint32_t t = 0; t < n_d; t++) ub[j] = sat_add(ub[j], d[t][j], a[t]);
}

/* ub[j] = the largest of rd[4j..4j+3] for j < n (n a multiple of 16): in each 64-bit lane
 * (one block) the largest of its four 16-bit documents lands in the low 16 bits, which one
 * byte shuffle and one lane permutation bring together. */
__attribute__((target("avx2"))) static void max4_avx2(uint16_t *ub, const uint16_t *rd, uint32_t n) {
    const __m256i sh = _mm256_setr_epi8(0, 1, 8, 9, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 8, 9, -1, -1,
                                        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i idx = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    for (uint32_t j = 0; j < n; j += 16) {
        __m128i part[4];
        for (int k = 0; k < 4; k++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(rd + 4 * j + 16 * k));
            x = _mm256_max_epu16(x, _mm256_srli_epi64(x, 16));
            x = _mm256_max_epu16(x, _mm256_srli_epi64(x, 32));
            part[k] = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(x, sh), idx));
        }
        __m128i lo = _mm_unpacklo_epi64(part[0], part[1]), hi = _mm_unpacklo_epi64(part[2], part[3]);
        _mm256_storeu_si256((__m256i *)(ub + j), _mm256_set_m128i(hi, lo));
    }
}

/* Largest of ub[0..n) (n a multiple of 16). */
__attribute__((target("avx2"))) static uint32_t max_avx2(const uint16_t *ub, uint32_t n) {
    __m256i mx = _mm256_setzero_si256();
    for (uint32_t j = 0; j < n; j += 16) mx = _mm256_max_epu16(mx, _mm256_loadu_si256((const __m256i *)(ub + j)));
    __m128i x = _mm_max_epu16(_mm256_castsi256_si128(mx), _mm256_extracti128_si256(mx, 1));
    x = _mm_max_epu16(x, _mm_srli_si128(x, 8));
    x = _mm_max_epu16(x, _mm_srli_si128(x, 4));
    x = _mm_max_epu16(x, _mm_srli_si128(x, 2));
    return (uint32_t)_mm_extract_epi16(x, 0);
}

/* Appends to out the j in [0, n) (n a multiple of 16) with lo <= ub[j] <= top, numbered from
 * base. */
__attribute__((target("avx2"))) static uint32_t collect_avx2(const uint16_t *ub, uint32_t n, uint16_t lo, uint16_t top,
                                                              uint32_t base, uint32_t *out) {
    __m256i vlo = _mm256_set1_epi16((short)lo), vtop = _mm256_set1_epi16((short)top);
    uint32_t k = 0;
    for (uint32_t j = 0; j < n; j += 16) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(ub + j));
        __m256i in = _mm256_cmpeq_epi16(_mm256_min_epu16(_mm256_max_epu16(x, vlo), vtop), x);
        uint32_t mask = (uint32_t)_mm256_movemask_epi8(in);
        while (mask) {
            uint32_t b = (uint32_t)__builtin_ctz(mask);
            out[k++] = base + j + b / 2;
            mask &= ~(3u << b);
        }
    }
    return k;
}
#endif

static int have_avx2(void) {
#ifdef __x86_64__
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static void add_dense(int avx2, uint16_t *ub, const uint8_t *const *d, const uint16_t *a, uint32_t n_d, uint32_t n) {
#ifdef __x86_64__
    if (avx2) {
        add_dense_avx2(ub, d, a, n_d, n);
        return;
    }
#endif
    (void)avx2;
    for (uint32_t j = 0; j < n; j++)
        for (uint32_t t = 0; t < n_d; t++) ub[j] = sat_add(ub[j], d[t][j], a[t]);
}

/* ub[j] = the largest of block j's four per-document bounds rd[4j..4j+3], for j < n. */
static void max4(int avx2, uint16_t *ub, const uint16_t *rd, uint32_t n) {
    uint32_t j = 0;
#ifdef __x86_64__
    if (avx2) max4_avx2(ub, rd, j = n & ~15u);
#endif
    (void)avx2;
    for (; j < n; j++) {
        const uint16_t *r = rd + 4 * (size_t)j;
        uint16_t a = r[0] > r[1] ? r[0] : r[1], b = r[2] > r[3] ? r[2] : r[3];
        ub[j] = a > b ? a : b;
    }
}

/* The largest of ub[0..n). */
static uint32_t bounds_max(int avx2, const uint16_t *ub, uint32_t n) {
    uint32_t mx = 0, j = 0;
#ifdef __x86_64__
    if (avx2) mx = max_avx2(ub, j = n & ~15u);
#endif
    (void)avx2;
    for (; j < n; j++) mx = ub[j] > mx ? ub[j] : mx;
    return mx;
}

/* Appends base + j for the j < n with lo <= ub[j] <= top to out; returns how many. */
static uint32_t collect(int avx2, const uint16_t *ub, uint32_t n, uint16_t lo, uint16_t top, uint32_t base,
                        uint32_t *out) {
    uint32_t k = 0, j = 0;
#ifdef __x86_64__
    if (avx2) k = collect_avx2(ub, j = n & ~15u, lo, top, base, out);
#endif
    (void)avx2;
    for (; j < n; j++)
        if (ub[j] >= lo && ub[j] <= top) out[k++] = base + j;
    return k;
}

/* A query term of the segment: local number, weight, and its side's step x |weight|. */
typedef struct {
    uint32_t lt;
    float w, c;
    uint16_t a; /* c in the query's bound units (bound_units) */
    uint64_t at; /* bound_units: the next of the term's postings to add */
} bterm;

/* Asks for the fwd_first entries of block j (a few blocks ahead of the one scored). */
static inline void prefetch_first(const sp_seg *s, uint32_t j) {
    __builtin_prefetch(&s->fwd_first[block_start(s, j)]);
    __builtin_prefetch(&s->fwd_first[block_start(s, j + 1)]);
}

/* Asks for document d's term numbers and int8 weights (one contiguous run each), into L2: 16
 * blocks ahead are up to ~400 lines, which in L1 evicted each other before use (in one
 * process on bench/sparse, L2 hints were 1.09x faster than L1 ones at 16 blocks ahead). */
static inline void prefetch_doc(const sp_seg *s, uint32_t d) {
    uint64_t i0 = s->fwd_first[d], i1 = s->fwd_first[d + 1];
    const char *p = (const char *)s->fwd_ids + i0 * s->id_bytes, *e = (const char *)s->fwd_ids + i1 * s->id_bytes;
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p, 0, 2);
    p = (const char *)(s->fwd_q + i0), e = (const char *)(s->fwd_q + i1);
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p, 0, 2);
}

/* Document d's score from its int8 weights (qc = query weight x impact scale); *e bounds
 * |this - exact|: half an impact unit per shared term (as the segment's rescoring), plus the
 * float rounding of sums of up to `chain` additions each (each term at most 127 units); 0
 * exactly when d shares no query term (as the segment's rescoring decides it). */
static inline float err_bound(float ea, float n, float chain) {
    return ea * (0.5f + 127 * 1e-5f + 127 * 1.2e-7f * chain) * (1 + 1.2e-7f * (n + chain));
}

#ifdef __x86_64__
/* approx over 16-bit term numbers, eight terms at a time: their query weights gathered (most
 * are 0: a document shares ~10 of its ~120 terms with a query), two sums of eight lanes. */
__attribute__((target("avx2,fma"))) static float approx_avx2(const sp_seg *s, uint32_t d, const float *qc, float *e) {
    uint64_t i0 = s->fwd_first[d], i = i0, i1 = s->fwd_first[d + 1];
    const uint16_t *id = s->fwd_ids;
    const int8_t *iq = s->fwd_q;
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, e0 = a0, e1 = a0;
    for (; i + 16 <= i1; i += 16) {
        __m128i ids = _mm_loadu_si128((const __m128i *)(id + i)), ids2 = _mm_loadu_si128((const __m128i *)(id + i + 8));
        __m256 c0 = _mm256_i32gather_ps(qc, _mm256_cvtepu16_epi32(ids), 4);
        __m256 c1 = _mm256_i32gather_ps(qc, _mm256_cvtepu16_epi32(ids2), 4);
        __m128i w8 = _mm_loadu_si128((const __m128i *)(iq + i));
        __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(w8));
        __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(w8, 8)));
        a0 = _mm256_fmadd_ps(c0, w0, a0), a1 = _mm256_fmadd_ps(c1, w1, a1);
        e0 = _mm256_add_ps(e0, _mm256_and_ps(c0, absm)), e1 = _mm256_add_ps(e1, _mm256_and_ps(c1, absm));
    }
    float at = 0, et = 0;
    for (; i < i1; i++) at += qc[id[i]] * iq[i], et += fabsf(qc[id[i]]);
    __m256 a = _mm256_add_ps(a0, a1), ev = _mm256_add_ps(e0, e1);
    __m128 a4 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 e4 = _mm_add_ps(_mm256_castps256_ps128(ev), _mm256_extractf128_ps(ev, 1));
    a4 = _mm_add_ps(a4, _mm_movehl_ps(a4, a4)), e4 = _mm_add_ps(e4, _mm_movehl_ps(e4, e4));
    a4 = _mm_add_ss(a4, _mm_movehdup_ps(a4)), e4 = _mm_add_ss(e4, _mm_movehdup_ps(e4));
    float ea = _mm_cvtss_f32(e4) + et;
    float n = (float)(i1 - i0);
    /* A lane adds n / 16 terms, then 4 levels join the lanes and the at most 15 tail terms. */
    *e = err_bound(ea, n, n / 16 + 20);
    return _mm_cvtss_f32(a4) + at;
}
#endif

/* Four sums where the terms are 16-bit: one would be a chain of dependent additions. */
static inline float approx(int avx2, const sp_seg *s, uint32_t d, const float *qc, float *e) {
#ifdef __x86_64__
    if (avx2 && s->id_bytes == 2) return approx_avx2(s, d, qc, e);
#endif
    (void)avx2;
    uint64_t i = s->fwd_first[d], i1 = s->fwd_first[d + 1];
    const int8_t *iq = s->fwd_q;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
    float n = (float)(i1 - i), chain = n + 4;
    if (s->id_bytes == 2) {
        const uint16_t *id = s->fwd_ids;
        for (; i + 4 <= i1; i += 4) {
            float c0 = qc[id[i]], c1 = qc[id[i + 1]], c2 = qc[id[i + 2]], c3 = qc[id[i + 3]];
            a0 += c0 * iq[i], a1 += c1 * iq[i + 1], a2 += c2 * iq[i + 2], a3 += c3 * iq[i + 3];
            e0 += fabsf(c0), e1 += fabsf(c1), e2 += fabsf(c2), e3 += fabsf(c3);
        }
        for (; i < i1; i++) a0 += qc[id[i]] * iq[i], e0 += fabsf(qc[id[i]]);
        chain = n / 4 + 4;
    } else {
        const uint32_t *id = s->fwd_ids;
        for (; i < i1; i++) a0 += qc[id[i]] * iq[i], e0 += fabsf(qc[id[i]]);
    }
    float ea = (e0 + e1) + (e2 + e3);
    *e = err_bound(ea, n, chain);
    return (a0 + a1) + (a2 + a3);
}

#define N_BUCKETS 1024

/* The first round takes the blocks of at least 5/8 of the largest bound (first_round). With
 * per-document rare parts the bounds are tighter and the stopping point lies higher: on
 * bench/sparse, half the largest took ~17,000 blocks a query (bucketed, ~600 of them scored)
 * and 5/8 ~2,500, with a second round in few queries; 1.2x faster at block_max 0.905. 3/4
 * needed a second round too often. */
static inline uint32_t first_round(uint32_t top) { return top * 5 / 8; }

/* Blocks fetched ahead of the one scored (their documents that may still be scored; the
 * fwd_first entries and per-document bounds twice as far): scoring waits on memory. On
 * bench/sparse 12 ahead was 1.14x faster than 4 and 16 to 24 about as fast as 12 (whole
 * blocks), and 8, 16 or 24 ahead were within noise of each other with documents skipped. */
#define PREFETCH_AHEAD 16u

/* The query terms the segment knows, into qt (room for q->n); returns how many. */
static uint32_t map_terms(const sp_seg *s, const sp_bmp *m, const sp_query *q, bterm *qt) {
    uint32_t nq = 0;
    for (uint32_t i = 0; i < q->n; i++) {
        int64_t lt = silt_spseg_local_term(s, q->ids[i]);
        if (lt < 0) continue;
        int neg = q->w[i] < 0;
        /* A term of either sign adds at most |q| x the block's largest weight of q's sign (0
         * when none): with no negative weight in the segment, a negative query term adds <= 0. */
        const bmp_side *x = &m->side[neg];
        qt[nq].lt = (uint32_t)lt, qt[nq].w = q->w[i];
        qt[nq].c = neg && !s->has_negative ? 0 : fabsf(q->w[i]) * x->unit[lt];
        nq++;
    }
    return nq;
}

/* Bounds of every document's rare terms in units (rd, [rd_len], overwritten) and of every
 * block (ub, [n_blocks]: the largest of its documents' rd + its frequent terms' part); *scale
 * gives them as values (bound_of). A document's own bound is ub - (largest rd of its block) +
 * its rd (doc_units). pre receives the blocks reaching first_round of the largest bound
 * (*n_pre of them). Returns the largest. */
static uint32_t bound_units(const sp_bmp *m, bterm *qt, uint32_t nq, uint16_t *ub, uint16_t *rd, uint32_t *pre,
                            uint32_t *n_pre, double *scale) {
    const uint32_t NB = m->n_blocks;
    const int avx2 = have_avx2();
    /* The query's scale: every term's largest share (c x 255) sums to 65,000 - 2 n units,
     * room for the + 1 and the ceiling of each term (sat_add). a is computed in double from
     * |q| and the step (exact products), raised by 1e-6 so that unit x m covers the weight it
     * was checked against in float (within 2^-24) and the ceiling stays above the exact
     * product: a <= 65,000 x 256 / 255 x (1 + 1e-6) < 65,536. */
    double csum = 0;
    uint32_t n_used = 0;
    for (uint32_t i = 0; i < nq; i++) csum += qt[i].c, n_used += qt[i].c != 0;
    const double room = n_used < 16000 ? 65000.0 - 2.0 * n_used : 33000.0;
    const double S = csum > 0 ? room / (255.0 * csum) : 1;
    for (uint32_t i = 0; i < nq; i++) {
        double c = qt[i].c == 0 ? 0 : fabs((double)qt[i].w) * m->side[qt[i].w < 0].unit[qt[i].lt];
        double a = ceil(c * S * 256 * (1 + 1e-6));
        qt[i].a = (uint16_t)(a > 65535 ? 65535 : a);
    }
    *scale = S;
    /* Rare terms first, into the documents' bounds (2 bytes a document), then each block's
     * largest into ub. A range of 128k documents at a time, so that the part of rd scattered
     * into stays in L2 (256 KB): over the whole array (2 MB at 1M documents) the scattering
     * took 1.8x as long on bench/sparse. Each term's postings are still read in order, a few
     * long runs. */
    const uint32_t n_rd = NB * SP_BMP_BLOCK_DOCS, chunk = 1u << 17;
    for (uint32_t i = 0; i < nq; i++) qt[i].at = qt[i].c == 0 ? 0 : m->side[qt[i].w < 0].sp_off[qt[i].lt];
    for (uint32_t c0 = 0; c0 < n_rd; c0 += chunk) {
        uint32_t c1 = n_rd - c0 > chunk ? c0 + chunk : n_rd;
        memset(rd + c0, 0, (size_t)(c1 - c0) * sizeof *rd);
        for (uint32_t i = 0; i < nq; i++) {
            if (qt[i].c == 0) continue;
            const bmp_side *x = &m->side[qt[i].w < 0];
            uint32_t t = qt[i].lt, a = qt[i].a;
            if (x->dense_at[t] != UINT32_MAX) continue;
            uint64_t j = qt[i].at;
            for (const uint64_t e = x->sp_off[t + 1]; j < e && x->sp_doc[j] < c1; j++)
                rd[x->sp_doc[j]] = sat_add(rd[x->sp_doc[j]], x->sp_step[j], a);
            qt[i].at = j;
        }
        max4(avx2, ub + c0 / SP_BMP_BLOCK_DOCS, rd + c0, (c1 - c0) / SP_BMP_BLOCK_DOCS);
    }
    /* Then the frequent terms, term after term over all blocks, not a chunk of blocks (in L1)
     * at a time for every term: each row is then one sequential run that the hardware
     * prefetcher follows, where 8,192-block chunks restarted ~30 short runs per term; the
     * bounds (2 bytes a block, 500 KB at 1M documents) stay in L2. In one process on
     * bench/sparse, block_max 0.9 was 1.16x faster so. */
    const uint8_t *dd[MAX_FUSED];
    uint16_t da[MAX_FUSED];
    uint32_t n_d = 0;
    for (uint32_t i = 0; i < nq; i++) {
        if (qt[i].c == 0) continue;
        const bmp_side *x = &m->side[qt[i].w < 0];
        uint32_t t = qt[i].lt;
        if (x->dense_at[t] == UINT32_MAX) continue;
        dd[n_d] = x->dense + (size_t)x->dense_at[t] * NB, da[n_d++] = qt[i].a;
        if (n_d == MAX_FUSED) add_dense(avx2, ub, dd, da, n_d, NB), n_d = 0;
    }
    if (n_d) add_dense(avx2, ub, dd, da, n_d, NB);
    uint32_t top = bounds_max(avx2, ub, NB);
    *n_pre = top >= 2 ? collect(avx2, ub, NB, (uint16_t)first_round(top), 65535, 0, pre) : 0;
    return top;
}

int silt_spbmp_bounds(const sp_seg *s, const sp_query *q, double *out, double *doc_out, char **err) {
    sp_bmp *m = bmp_get(s);
    if (!m) return silt_err(err, "out of memory deriving block maxima for a sparse segment of %u documents", s->n_docs);
    bterm *qt = malloc(((size_t)q->n + 1) * sizeof *qt);
    uint16_t *ub = malloc(((size_t)m->n_blocks + 1) * sizeof *ub);
    uint16_t *rd = malloc(rd_len(m) * sizeof *rd);
    uint32_t *pre = malloc(((size_t)m->n_blocks + 1) * sizeof *pre);
    int rc = -1;
    if (!qt || !ub || !rd || !pre) {
        silt_err(err, "out of memory in a sparse search over %u documents", s->n_docs);
        goto done;
    }
    uint32_t nq = map_terms(s, m, q, qt), n_pre;
    double S;
    bound_units(m, qt, nq, ub, rd, pre, &n_pre, &S);
    for (uint32_t j = 0; j < m->n_blocks; j++) {
        if (out) out[j] = bound_of(ub[j], 1 / S);
        for (uint32_t d = block_start(s, j); doc_out && d < block_start(s, j + 1); d++)
            doc_out[d] = bound_of(doc_units(ub[j], rd + 4 * (size_t)j, d - 4 * j), 1 / S);
    }
    rc = 0;
done:
    free(qt), free(ub), free(rd), free(pre);
    return rc;
}

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
    int rc = -1;
    uint32_t nq = 0;
    if (!w || !qt) {
        silt_err(err, "out of memory in a sparse search over %u documents", s->n_docs);
        goto done;
    }
    nq = map_terms(s, m, q, qt);
    for (uint32_t i = 0; i < nq; i++) w->qloc[qt[i].lt] = qt[i].w, w->qc[qt[i].lt] = qt[i].w * s->scale[qt[i].lt];
    if (nq == 0) {
        rc = 0;
        goto done;
    }
    const uint32_t NB = m->n_blocks;
    const int avx2 = have_avx2();
    uint16_t *ub = w->ub;
    uint32_t n_pre;
    double S;
    const uint16_t *rd = w->rd;
    uint32_t top = bound_units(m, qt, nq, ub, w->rd, w->taken, &n_pre, &S);
    const double inv_s = 1 / S;
    /* The unit sums are exact and cover the float steps (bound_units); this slack covers the
     * double arithmetic below and the exact scores' own rounding with a wide margin. */
    const double slack = 1 + 1e-9;
    /* Blocks are taken in rounds, bounds in units [lo, hi): first those of at least 5/8 of the
     * largest (first_round), bucketed by bound and scored best first; only when they run out
     * before the stopping rule does the next round take every block the rule still allows (all
     * of them while fewer than k documents were found: an exhaustive, hence exact, end).
     * Bucketing every block would cost more than scoring the few that matter. */
    uint32_t lo = first_round(top), hi = 65536;
    for (int round = 0;; round++) {
        uint32_t n_take = 0;
        if (round == 0 && lo > 0) {
            for (uint32_t i = 0; i < n_pre; i++)
                if (ub[w->taken[i]] >= lo) w->taken[n_take++] = w->taken[i];
        } else {
            n_take = collect(avx2, ub, NB, (uint16_t)lo, (uint16_t)(hi - 1), 0, w->taken);
        }
        /* Bucket of u: (u - lo) x N_BUCKETS / span over [lo, top_r]; its largest u is
         * lo + ((bucket + 1) x span - 1) / N_BUCKETS (top_r for the last bucket). */
        uint32_t top_r = hi - 1 < top ? hi - 1 : top;
        uint64_t span = top_r >= lo ? (uint64_t)(top_r - lo) + 1 : 1;
        uint32_t bstart[N_BUCKETS + 1] = {0}, fill[N_BUCKETS];
        for (uint32_t i = 0; i < n_take; i++) bstart[(uint64_t)(ub[w->taken[i]] - lo) * N_BUCKETS / span + 1]++;
        for (uint32_t i = 0; i < N_BUCKETS; i++) bstart[i + 1] += bstart[i];
        memcpy(fill, bstart, sizeof fill);
        for (uint32_t i = 0; i < n_take; i++) {
            uint32_t j = w->taken[i];
            w->sorted[fill[(uint64_t)(ub[j] - lo) * N_BUCKETS / span]++] = j;
        }
        int stopped = 0;
        /* sorted[] ascends by bucket: walk it backwards, fetching blocks ahead. */
        for (uint32_t oi = n_take; oi-- > 0;) {
            if (oi >= 2 * PREFETCH_AHEAD) {
                prefetch_first(s, w->sorted[oi - 2 * PREFETCH_AHEAD]);
                __builtin_prefetch(rd + 4 * (size_t)w->sorted[oi - 2 * PREFETCH_AHEAD]);
            }
            if (oi >= PREFETCH_AHEAD) {
                /* Only the documents that may still be scored (the k-th best only rises). */
                uint32_t jp = w->sorted[oi - PREFETCH_AHEAD], need = 0;
                if (h->n == h->k && h->score[0] > 0) {
                    double u = h->score[0] / (alpha * slack) * S;
                    need = u >= 65535 ? 65535 : (uint32_t)u;
                }
                for (uint32_t d = block_start(s, jp), d1 = block_start(s, jp + 1); d < d1; d++)
                    if (doc_units(ub[jp], rd + 4 * (size_t)jp, d - 4 * jp) >= need) prefetch_doc(s, d);
            }
            uint32_t j = w->sorted[oi];
            if (h->n == h->k) {
                double theta = h->score[0];
                uint64_t bk = (uint64_t)(ub[j] - lo) * N_BUCKETS / span;
                /* No block left in this round may reach the k-th best: stop. */
                uint32_t edge = lo + (uint32_t)(((bk + 1) * span - 1) / N_BUCKETS);
                if (alpha * bound_of(edge, inv_s) * slack < theta) {
                    stopped = 1;
                    break;
                }
                if (alpha * bound_of(ub[j], inv_s) * slack < theta) continue;
            }
            for (uint32_t d = block_start(s, j), d1 = block_start(s, j + 1); d < d1; d++) {
                if ((s->n_dead && silt_spseg_is_dead(s, d)) || (allow && !((allow[d >> 6] >> (d & 63)) & 1))) continue;
                if (h->n == h->k &&
                    alpha * bound_of(doc_units(ub[j], rd + 4 * (size_t)j, d - 4 * j), inv_s) * slack < h->score[0])
                    continue;
                float e;
                float a = approx(avx2, s, d, w->qc, &e);
                if (e == 0) continue; /* no query term */
                if (h->n == h->k && (double)a + e < h->score[0]) continue;
                int sh;
                double sc = silt_spseg_score(s, d, w->qloc, &sh);
                if (sh) silt_sp_heap_push(h, sc, s->rowids[d]);
            }
        }
        if (stopped || lo == 0) break;
        /* The round ran out: next, every block below it that the rule still allows, the
         * smallest u whose bound may reach theta rounded down (or all while the heap is not
         * full, or theta is not positive). */
        hi = lo;
        lo = 0;
        if (h->n == h->k) {
            double u = h->score[0] / (alpha * slack) * S;
            lo = u <= 0 ? 0 : u >= 65535 ? 65535 : (uint32_t)u;
        }
        if (lo >= hi) break;
    }
    rc = 0;
done:
    if (w)
        for (uint32_t i = 0; i < nq; i++) w->qloc[qt[i].lt] = 0, w->qc[qt[i].lt] = 0;
    if (owned) work_free(w);
    else pthread_mutex_unlock(&m->lock);
    free(qt);
    return rc;
}
