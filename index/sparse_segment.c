/* sparse_segment.c: build and search one immutable segment of the learned-sparse index
 * (layout in sparse_segment.h; serialisation in sparse_segment_io.c). */
#include "index/sparse_segment.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hugepages.h"
#include "index/varint.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static inline void bit_set(uint64_t *b, uint64_t i) { b[i >> 6] |= (uint64_t)1 << (i & 63); }

/* Impact (rounded to nearest) of weight w on a term of scale sc. */
static inline int quant(float w, float sc) {
    long v = lrintf(w / sc);
    return (int)(v > 127 ? 127 : v < -127 ? -127 : v);
}
/* Local term number of forward entry i. */
static inline uint32_t fwd_id(const sp_seg *s, uint64_t i) {
    return s->id_bytes == 2 ? ((const uint16_t *)s->fwd_ids)[i] : ((const uint32_t *)s->fwd_ids)[i];
}

/* Open-addressing map from global term id to local term number, sized for n_max keys. */
typedef struct {
    uint32_t *key;
    uint32_t *val; /* UINT32_MAX = empty slot */
    uint32_t mask, n;
} term_map;

static int tmap_init(term_map *m, uint32_t cap) {
    uint32_t sz = 1024;
    while (sz < cap * 2) sz <<= 1;
    m->key = malloc((size_t)sz * sizeof *m->key);
    m->val = malloc((size_t)sz * sizeof *m->val);
    if (!m->key || !m->val) return -1;
    memset(m->val, 0xff, (size_t)sz * sizeof *m->val);
    m->mask = sz - 1;
    m->n = 0;
    return 0;
}
static void tmap_free(term_map *m) {
    free(m->key);
    free(m->val);
}
static inline uint32_t tmap_hash(uint32_t k) { return (k * 2654435761u) ^ (k >> 15); }
/* Slot of key k (occupied by k, or the empty slot where it would go). */
static inline uint32_t tmap_slot(const term_map *m, uint32_t k) {
    uint32_t i = tmap_hash(k) & m->mask;
    while (m->val[i] != UINT32_MAX && m->key[i] != k) i = (i + 1) & m->mask;
    return i;
}
static int tmap_grow(term_map *m) {
    term_map g;
    if (tmap_init(&g, (m->mask + 1))) {
        tmap_free(&g);
        return -1;
    }
    for (uint32_t i = 0; i <= m->mask; i++)
        if (m->val[i] != UINT32_MAX) {
            uint32_t j = tmap_slot(&g, m->key[i]);
            g.key[j] = m->key[i], g.val[j] = m->val[i], g.n++;
        }
    tmap_free(m);
    *m = g;
    return 0;
}
/* Inserts k (value 0) when absent. */
static int tmap_add(term_map *m, uint32_t k) {
    uint32_t i = tmap_slot(m, k);
    if (m->val[i] != UINT32_MAX) return 0;
    m->key[i] = k, m->val[i] = 0, m->n++;
    if (m->n * 2 > m->mask + 1) return tmap_grow(m);
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* by_rowid sorting: rowids of the segment being sorted (qsort has no context argument). */
static int cmp_rowid_ctx(const void *a, const void *b, void *ctx) {
    const int64_t *r = ctx;
    int64_t x = r[*(const uint32_t *)a], y = r[*(const uint32_t *)b];
    return x < y ? -1 : x > y;
}

/* A candidate scored from the quantised forward index: score a, |a - exact| <= e. */
typedef struct resc {
    double a, e;
    uint32_t d;
} resc;

/* Work arrays of one search: acc, touched, qloc and qc are all zero between searches. */
typedef struct sp_scratch {
    float *acc;          /* [n_docs] partial scores */
    uint64_t *touched;   /* [(n_docs + 63) / 64] documents with a posting read */
    float *qloc;         /* [n_terms] query weight by local term */
    float *qc;           /* [n_terms] query weight x scale by local term */
    struct cand *sorted; /* candidates that may matter (a heap while rescoring) */
    size_t cap;          /* capacity of sorted */
    resc *rs;            /* candidates scored from the quantised forward index */
    size_t rs_cap;       /* capacity of rs */
} sp_scratch;

void silt_spseg_init_scratch(sp_seg *s) {
    pthread_mutex_init(&s->scratch_lock, NULL);
    s->scratch = NULL;
    pthread_mutex_init(&s->bmp_lock, NULL);
    s->bmp = NULL;
}

static void scratch_free(sp_scratch *w) {
    if (!w) return;
    free(w->acc), free(w->touched), free(w->qloc), free(w->qc), free(w->sorted), free(w->rs);
    free(w);
}

/* Zeroed work arrays for s: the segment's own when free (*owned = 0), else fresh ones
 * (*owned = 1). NULL when out of memory. */
static sp_scratch *scratch_take(const sp_seg *cs, int *owned) {
    sp_seg *s = (sp_seg *)cs; /* the lock and cache are not part of the segment's value */
    if (pthread_mutex_trylock(&s->scratch_lock) == 0) {
        if (!s->scratch) {
            sp_scratch *w = calloc(1, sizeof *w);
            if (w) {
                w->acc = calloc((size_t)s->n_docs + 1, sizeof *w->acc);
                w->touched = calloc(((size_t)s->n_docs + 63) / 64 + 1, sizeof *w->touched);
                silt_advise_huge(w->acc, ((size_t)s->n_docs + 1) * sizeof *w->acc);
                w->qloc = calloc((size_t)s->n_terms + 1, sizeof *w->qloc);
                w->qc = calloc((size_t)s->n_terms + 1, sizeof *w->qc);
                if (!w->acc || !w->touched || !w->qloc || !w->qc) scratch_free(w), w = NULL;
            }
            s->scratch = w;
        }
        if (s->scratch) {
            *owned = 0;
            return s->scratch;
        }
        pthread_mutex_unlock(&s->scratch_lock);
    }
    sp_scratch *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->acc = calloc((size_t)s->n_docs + 1, sizeof *w->acc);
    w->touched = calloc(((size_t)s->n_docs + 63) / 64 + 1, sizeof *w->touched);
    w->qloc = calloc((size_t)s->n_terms + 1, sizeof *w->qloc);
    w->qc = calloc((size_t)s->n_terms + 1, sizeof *w->qc);
    if (!w->acc || !w->touched || !w->qloc || !w->qc) {
        scratch_free(w);
        return NULL;
    }
    *owned = 1;
    return w;
}

/* Gives work arrays back, zeroing what the search wrote (touched documents, query terms). */
static void scratch_give(const sp_seg *cs, sp_scratch *w, int owned, const uint32_t *lts,
                         uint32_t n_lts) {
    sp_seg *s = (sp_seg *)cs;
    if (!w) return;
    if (owned) {
        scratch_free(w);
        return;
    }
    size_t n_words = ((size_t)s->n_docs + 63) / 64;
    for (size_t i = 0; i < n_words; i++) {
        for (uint64_t m = w->touched[i]; m; m &= m - 1) w->acc[i * 64 + (size_t)__builtin_ctzll(m)] = 0;
        w->touched[i] = 0;
    }
    for (uint32_t i = 0; i < n_lts; i++) w->qloc[lts[i]] = 0, w->qc[lts[i]] = 0;
    pthread_mutex_unlock(&s->scratch_lock);
}

void silt_spseg_free(sp_seg *s) {
    if (!s) return;
    scratch_free(s->scratch);
    pthread_mutex_destroy(&s->scratch_lock);
    silt_spbmp_free(s->bmp);
    pthread_mutex_destroy(&s->bmp_lock);
    free(s->rowids);
    free(s->by_rowid);
    free(s->dead);
    free(s->term_ids);
    free(s->scale);
    free(s->fwd_ids);
    free(s->fwd_first);
    free(s->fwd_w);
    free(s->fwd_q);
    free(s->post_off);
    free(s->post);
    free(s->keep);
    free(s->head_off);
    free(s->head);
    free(s);
}

uint64_t silt_spseg_bytes(const sp_seg *s) {
    uint64_t n = (uint64_t)s->n_docs * (8 + 4 + 16) + ((uint64_t)s->n_docs + 63) / 64 * 8 + 16;
    n += (uint64_t)s->n_terms * (4 + 4 + 16) + 16;
    n += s->fwd_first[s->n_docs] * (4 + 1 + s->id_bytes);
    n += (uint64_t)s->n_terms * 9 + 8 + s->post_off[s->n_terms] + s->head_off[s->n_terms];
    sp_seg *m = (sp_seg *)s; /* the lock is not part of the segment's value */
    pthread_mutex_lock(&m->bmp_lock);
    n += silt_spbmp_bytes(s->bmp);
    pthread_mutex_unlock(&m->bmp_lock);
    return n;
}

int silt_spseg_derive_fwd_q(sp_seg *s) {
    uint64_t n = s->fwd_first[s->n_docs];
    s->fwd_q = malloc(n + 1);
    if (!s->fwd_q) return -1;
    silt_advise_huge(s->fwd_q, n + 1);
    for (uint32_t d = 0; d < s->n_docs; d++)
        for (uint64_t i = s->fwd_first[d]; i < s->fwd_first[d + 1]; i++)
            s->fwd_q[i] = (int8_t)quant(s->fwd_w[i], s->scale[fwd_id(s, i)]);
    return 0;
}

/* ---- build -------------------------------------------------------------------------------- */

/* Per-term counters of the builder. */
typedef struct {
    uint32_t *n_post;     /* postings */
    uint32_t *n_ent;      /* blocks holding the term */
    uint64_t *gap_bytes;  /* varint bytes of the block gaps */
    uint32_t *last_block; /* last block seen, UINT32_MAX before the first */
    float *maxw;          /* max |w| */
    uint32_t *cnt_pos;    /* postings: offset of the current entry's count byte (from term start) */
    uint64_t *post_cur;   /* postings write cursor */
    uint64_t *head_cur;   /* heads write cursor */
    uint32_t *head_last;  /* last document written to the term's head, UINT32_MAX before */
} build_tmp;

static void build_tmp_free(build_tmp *t) {
    free(t->n_post), free(t->n_ent), free(t->gap_bytes), free(t->last_block), free(t->maxw);
    free(t->cnt_pos), free(t->post_cur), free(t->head_cur), free(t->head_last);
}

static int build_oom(sp_seg *s, build_tmp *t, term_map *m, char **err, const char *what) {
    build_tmp_free(t);
    if (m) tmap_free(m);
    silt_spseg_free(s);
    return silt_err(err, "out of memory building a sparse index segment (%s)", what);
}

/* Calls get for document i and checks it (ids increasing, weights finite, non-zero). */
static int fetch(sp_doc_fn get, void *ctx, uint32_t i, sp_doc *doc, char **err) {
    if (get(ctx, i, doc, err)) return -1;
    for (uint32_t j = 0; j < doc->n; j++) {
        if (j && doc->ids[j] <= doc->ids[j - 1])
            return silt_err(err, "row %lld: term ids not strictly increasing", (long long)doc->rowid);
        if (!isfinite(doc->w[j]) || doc->w[j] == 0)
            return silt_err(err, "row %lld: weight of term %u is not a finite non-zero number",
                            (long long)doc->rowid, doc->ids[j]);
    }
    return 0;
}

sp_seg *silt_spseg_build(sp_doc_fn get, void *ctx, uint32_t n_docs, uint32_t block_docs,
                         float prune, char **err) {
    if (block_docs < 1 || block_docs > 256) {
        silt_err(err, "block_docs must be between 1 and 256 (got %u)", block_docs);
        return NULL;
    }
    if (!(prune > 0 && prune <= 1)) {
        silt_err(err, "prune must be in (0, 1] (got %g)", (double)prune);
        return NULL;
    }
    build_tmp t;
    memset(&t, 0, sizeof t);
    term_map m;
    memset(&m, 0, sizeof m);
    sp_seg *s = calloc(1, sizeof *s);
    if (!s) return silt_err(err, "out of memory building a sparse index segment"), NULL;
    silt_spseg_init_scratch(s);
    s->n_docs = n_docs;
    s->block_docs = block_docs;
    s->n_blocks = (uint32_t)(((uint64_t)n_docs + block_docs - 1) / block_docs);
    s->prune = prune;
    s->rowids = malloc(((size_t)n_docs + 1) * sizeof *s->rowids);
    s->by_rowid = malloc(((size_t)n_docs + 1) * sizeof *s->by_rowid);
    s->dead = calloc(((size_t)n_docs + 63) / 64 + 1, sizeof *s->dead);
    s->fwd_first = malloc(((size_t)n_docs + 1) * sizeof *s->fwd_first);
    /* read at a random place per candidate and block, as the forward index itself */
    silt_advise_huge(s->fwd_first, ((size_t)n_docs + 1) * sizeof *s->fwd_first);
    if (!s->rowids || !s->by_rowid || !s->dead || !s->fwd_first ||
        tmap_init(&m, 4096))
        return build_oom(s, &t, &m, err, "documents"), NULL;

    /* Pass A: rowids, term dictionary, sizes. */
    uint64_t total = 0;
    sp_doc doc;
    for (uint32_t i = 0; i < n_docs; i++) {
        if (fetch(get, ctx, i, &doc, err)) goto fail;
        s->rowids[i] = doc.rowid;
        total += doc.n;
        for (uint32_t j = 0; j < doc.n; j++)
            if (tmap_add(&m, doc.ids[j])) return build_oom(s, &t, &m, err, "terms"), NULL;
    }
    for (uint32_t i = 0; i < n_docs; i++) s->by_rowid[i] = i;
    qsort_r(s->by_rowid, n_docs, sizeof *s->by_rowid, cmp_rowid_ctx, s->rowids);
    for (uint32_t i = 1; i < n_docs; i++)
        if (s->rowids[s->by_rowid[i]] == s->rowids[s->by_rowid[i - 1]]) {
            silt_err(err, "rowid %lld given twice to one sparse index segment",
                     (long long)s->rowids[s->by_rowid[i]]);
            goto fail;
        }
    s->n_terms = m.n;
    s->term_ids = malloc(((size_t)m.n + 1) * sizeof *s->term_ids);
    if (!s->term_ids) return build_oom(s, &t, &m, err, "terms"), NULL;
    {
        uint32_t k = 0;
        for (uint32_t i = 0; i <= m.mask; i++)
            if (m.val[i] != UINT32_MAX) s->term_ids[k++] = m.key[i];
        qsort(s->term_ids, m.n, sizeof *s->term_ids, cmp_u32);
        for (uint32_t i = 0; i < m.n; i++) m.val[tmap_slot(&m, s->term_ids[i])] = i;
    }
    uint32_t nt = s->n_terms;
    t.n_post = calloc((size_t)nt + 1, sizeof *t.n_post);
    t.n_ent = calloc((size_t)nt + 1, sizeof *t.n_ent);
    t.gap_bytes = calloc((size_t)nt + 1, sizeof *t.gap_bytes);
    t.last_block = malloc(((size_t)nt + 1) * sizeof *t.last_block);
    t.maxw = calloc((size_t)nt + 1, sizeof *t.maxw);
    s->scale = malloc(((size_t)nt + 1) * sizeof *s->scale);
    s->fwd_w = malloc((total + 1) * sizeof *s->fwd_w);
    s->id_bytes = nt <= 65536 ? 2 : 4;
    s->fwd_ids = malloc((total + 1) * s->id_bytes);
    silt_advise_huge(s->fwd_w, (total + 1) * sizeof *s->fwd_w);
    silt_advise_huge(s->fwd_ids, (total + 1) * s->id_bytes);
    if (!t.n_post || !t.n_ent || !t.gap_bytes || !t.last_block || !t.maxw || !s->scale ||
        !s->fwd_w || !s->fwd_ids)
        return build_oom(s, &t, &m, err, "forward index"), NULL;
    memset(t.last_block, 0xff, ((size_t)nt + 1) * sizeof *t.last_block);

    /* Pass B: forward index and per-term counts. */
    uint64_t nw = 0;
    uint16_t *ids16 = s->id_bytes == 2 ? s->fwd_ids : NULL;
    uint32_t *ids32 = s->id_bytes == 4 ? s->fwd_ids : NULL;
    for (uint32_t i = 0; i < n_docs; i++) {
        if (fetch(get, ctx, i, &doc, err)) goto fail;
        if (doc.rowid != s->rowids[i] || nw + doc.n > total) {
            silt_err(err, "sparse index segment source changed while building");
            goto fail;
        }
        s->fwd_first[i] = nw;
        uint32_t b = i / block_docs;
        for (uint32_t j = 0; j < doc.n; j++) {
            uint32_t lt = m.val[tmap_slot(&m, doc.ids[j])];
            if (ids16) ids16[nw] = (uint16_t)lt;
            else ids32[nw] = lt;
            s->fwd_w[nw++] = doc.w[j];
            if (doc.w[j] < 0) s->has_negative = 1;
            float a = fabsf(doc.w[j]);
            if (a > t.maxw[lt]) t.maxw[lt] = a;
            t.n_post[lt]++;
            if (t.last_block[lt] != b) {
                t.gap_bytes[lt] += silt_vlen(t.last_block[lt] == UINT32_MAX ? b : b - t.last_block[lt]);
                t.n_ent[lt]++;
                t.last_block[lt] = b;
            }
        }
    }
    s->fwd_first[n_docs] = nw;
    tmap_free(&m);
    memset(&m, 0, sizeof m);
    for (uint32_t lt = 0; lt < nt; lt++) {
        float sc = t.maxw[lt] / 127.0f;
        if (!(sc > 0)) sc = FLT_MIN;
        while (t.maxw[lt] / sc > 127.0f) sc = nextafterf(sc, INFINITY);
        s->scale[lt] = sc;
    }
    if (silt_spseg_derive_fwd_q(s)) return build_oom(s, &t, NULL, err, "forward index"), NULL;

    /* Static pruning: a list longer than the cap keeps, in its head, the postings whose
     * |impact| reaches the level that leaves at least `cap` of them (a histogram per term). */
    s->keep = calloc((size_t)nt + 1, 1);
    s->head_off = calloc((size_t)nt + 1, sizeof *s->head_off);
    s->post_off = malloc(((size_t)nt + 1) * sizeof *s->post_off);
    t.cnt_pos = malloc(((size_t)nt + 1) * sizeof *t.cnt_pos);
    t.post_cur = malloc(((size_t)nt + 1) * sizeof *t.post_cur);
    t.head_cur = calloc((size_t)nt + 1, sizeof *t.head_cur);
    t.head_last = malloc(((size_t)nt + 1) * sizeof *t.head_last);
    if (!s->keep || !s->head_off || !s->post_off || !t.cnt_pos || !t.post_cur || !t.head_cur ||
        !t.head_last)
        return build_oom(s, &t, NULL, err, "postings"), NULL;
    uint64_t cap = (uint64_t)ceil((double)prune * n_docs);
    if (cap < SP_HEAD_MIN) cap = SP_HEAD_MIN;
    int any_head = 0;
    for (uint32_t lt = 0; lt < nt && prune < 1; lt++) any_head |= t.n_post[lt] > cap;
    uint64_t *hsize = t.head_cur; /* head bytes per term, then reused as write cursors */
    if (any_head) {
        uint32_t n_long = 0;
        uint32_t *slot = malloc(((size_t)nt + 1) * sizeof *slot); /* histogram row of a term */
        for (uint32_t lt = 0; slot && lt < nt; lt++) slot[lt] = t.n_post[lt] > cap ? n_long++ : UINT32_MAX;
        uint32_t *hist = slot ? calloc((size_t)n_long * 128 + 1, sizeof *hist) : NULL;
        if (!hist) {
            free(slot);
            return build_oom(s, &t, NULL, err, "pruning histogram"), NULL;
        }
        for (uint32_t d = 0; d < n_docs; d++) {
            for (uint64_t i = s->fwd_first[d]; i < s->fwd_first[d + 1]; i++) {
                uint32_t lt = fwd_id(s, i);
                const float *w = s->fwd_w + i;
                if (slot[lt] != UINT32_MAX)
                    hist[(size_t)slot[lt] * 128 + (uint32_t)abs(quant(*w, s->scale[lt]))]++;
            }
        }
        for (uint32_t lt = 0; lt < nt; lt++) {
            if (slot[lt] == UINT32_MAX) continue;
            uint64_t have = 0;
            int lv = 127;
            for (; lv > 1; lv--) {
                have += hist[(size_t)slot[lt] * 128 + (uint32_t)lv];
                if (have >= cap) break;
            }
            s->keep[lt] = (uint8_t)lv;
        }
        free(hist);
        free(slot);
        memset(t.head_last, 0xff, ((size_t)nt + 1) * sizeof *t.head_last);
        for (uint32_t d = 0; d < n_docs; d++) {
            for (uint64_t i = s->fwd_first[d]; i < s->fwd_first[d + 1]; i++) {
                uint32_t lt = fwd_id(s, i);
                const float *w = s->fwd_w + i;
                if (!s->keep[lt] || abs(quant(*w, s->scale[lt])) < s->keep[lt]) continue;
                hsize[lt] += silt_vlen(t.head_last[lt] == UINT32_MAX ? d : d - t.head_last[lt]) + 1;
                t.head_last[lt] = d;
            }
        }
    }
    uint64_t po = 0, ho = 0;
    for (uint32_t lt = 0; lt < nt; lt++) {
        s->post_off[lt] = po;
        s->head_off[lt] = ho;
        po += t.gap_bytes[lt] + t.n_ent[lt] + 2 * (uint64_t)t.n_post[lt];
        ho += hsize[lt];
        t.post_cur[lt] = s->post_off[lt];
        hsize[lt] = s->head_off[lt];
    }
    s->post_off[nt] = po;
    s->head_off[nt] = ho;
    s->post = malloc(po + 1);
    s->head = malloc(ho + 1);
    silt_advise_huge(s->post, po + 1);
    silt_advise_huge(s->head, ho + 1);
    if (!s->post || !s->head) return build_oom(s, &t, NULL, err, "postings"), NULL;
    s->post[po] = 0, s->head[ho] = 0; /* padding read by head_gap, defined */

    /* Pass C: write postings and heads. */
    memset(t.last_block, 0xff, ((size_t)nt + 1) * sizeof *t.last_block);
    memset(t.head_last, 0xff, ((size_t)nt + 1) * sizeof *t.head_last);
    for (uint32_t d = 0; d < n_docs; d++) {
        uint32_t b = d / block_docs;
        uint8_t off = (uint8_t)(d - b * block_docs);
        for (uint64_t i = s->fwd_first[d]; i < s->fwd_first[d + 1]; i++) {
            uint32_t lt = fwd_id(s, i);
            const float *w = s->fwd_w + i;
            int imp = quant(*w, s->scale[lt]);
            uint64_t c = t.post_cur[lt];
            if (t.last_block[lt] != b) {
                c += silt_vput(s->post + c, t.last_block[lt] == UINT32_MAX ? b : b - t.last_block[lt]);
                t.cnt_pos[lt] = (uint32_t)(c - s->post_off[lt]);
                s->post[c++] = 0;
                t.last_block[lt] = b;
            } else {
                s->post[s->post_off[lt] + t.cnt_pos[lt]]++;
            }
            s->post[c++] = off;
            s->post[c++] = (uint8_t)(int8_t)imp;
            t.post_cur[lt] = c;
            if (!s->keep[lt] || abs(imp) < s->keep[lt]) continue;
            uint64_t hc = t.head_cur[lt];
            hc += silt_vput(s->head + hc, t.head_last[lt] == UINT32_MAX ? d : d - t.head_last[lt]);
            s->head[hc++] = (uint8_t)(int8_t)imp;
            t.head_cur[lt] = hc;
            t.head_last[lt] = d;
        }
    }
    build_tmp_free(&t);
    return s;
fail:
    build_tmp_free(&t);
    tmap_free(&m);
    silt_spseg_free(s);
    return NULL;
}

/* ---- lookup -------------------------------------------------------------------------------- */

int64_t silt_spseg_find(const sp_seg *s, int64_t rowid) {
    uint32_t lo = 0, hi = s->n_docs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t r = s->rowids[s->by_rowid[mid]];
        if (r < rowid) lo = mid + 1;
        else hi = mid;
    }
    if (lo < s->n_docs && s->rowids[s->by_rowid[lo]] == rowid && !silt_spseg_is_dead(s, s->by_rowid[lo]))
        return s->by_rowid[lo];
    return -1;
}

void silt_spseg_kill(sp_seg *s, uint32_t d) {
    if (!silt_spseg_is_dead(s, d)) bit_set(s->dead, d), s->n_dead++;
}

int64_t silt_spseg_doc(const sp_seg *s, uint32_t d, uint32_t **ids, float **w, size_t *cap) {
    uint64_t n = s->fwd_first[d + 1] - s->fwd_first[d];
    if (n + 1 > *cap) {
        uint32_t *a = realloc(*ids, (n + 1) * sizeof **ids);
        if (!a) return -1;
        *ids = a;
        float *b = realloc(*w, (n + 1) * sizeof **w);
        if (!b) return -1;
        *w = b;
        *cap = n + 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        (*ids)[i] = s->term_ids[fwd_id(s, s->fwd_first[d] + i)];
        (*w)[i] = s->fwd_w[s->fwd_first[d] + i];
    }
    return (int64_t)n;
}

/* ---- search -------------------------------------------------------------------------------- */

/* 1 when (sa, ra) is worse than (sb, rb): lower score, or equal score and larger rowid. */
static inline int worse(double sa, int64_t ra, double sb, int64_t rb) {
    return sa < sb || (sa == sb && ra > rb);
}

static void heap_sift_down(sp_heap *h, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && worse(h->score[l], h->rowid[l], h->score[m], h->rowid[m])) m = l;
        if (r < h->n && worse(h->score[r], h->rowid[r], h->score[m], h->rowid[m])) m = r;
        if (m == i) return;
        double ts = h->score[i];
        int64_t tr = h->rowid[i];
        h->score[i] = h->score[m], h->rowid[i] = h->rowid[m];
        h->score[m] = ts, h->rowid[m] = tr;
        i = m;
    }
}

void silt_sp_heap_push(sp_heap *h, double score, int64_t rowid) {
    if (h->k == 0) return;
    if (h->n < h->k) {
        uint32_t i = h->n++;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (!worse(score, rowid, h->score[p], h->rowid[p])) break;
            h->score[i] = h->score[p], h->rowid[i] = h->rowid[p];
            i = p;
        }
        h->score[i] = score, h->rowid[i] = rowid;
        return;
    }
    if (!worse(h->score[0], h->rowid[0], score, rowid)) return;
    h->score[0] = score, h->rowid[0] = rowid;
    heap_sift_down(h, 0);
}

/* Removes every entry of the heap whose rowid is a document of s (used before a fallback
 * rescans s, which runs only while the heap is not full, so nothing of s was evicted). */
static void heap_drop_segment(sp_heap *h, const sp_seg *s) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < h->n; i++)
        if (silt_spseg_find(s, h->rowid[i]) < 0) h->score[k] = h->score[i], h->rowid[k] = h->rowid[i], k++;
    h->n = k;
    for (uint32_t i = h->n / 2; i-- > 0;) heap_sift_down(h, i);
}

int64_t silt_spseg_local_term(const sp_seg *s, uint32_t id) {
    uint32_t lo = 0, hi = s->n_terms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->term_ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->n_terms && s->term_ids[lo] == id ? (int64_t)lo : -1;
}

float *silt_spseg_map_query(const sp_seg *s, const sp_query *q, uint32_t *n_found) {
    float *qloc = calloc((size_t)s->n_terms + 1, sizeof *qloc);
    uint32_t n = 0;
    if (!qloc) return NULL;
    for (uint32_t i = 0; i < q->n; i++) {
        int64_t lt = silt_spseg_local_term(s, q->ids[i]);
        if (lt >= 0) qloc[lt] = q->w[i], n++;
    }
    *n_found = n;
    return qloc;
}

double silt_spseg_score(const sp_seg *s, uint32_t d, const float *qloc, int *shares) {
    uint64_t i0 = s->fwd_first[d], i1 = s->fwd_first[d + 1];
    const float *w = s->fwd_w;
    double sum = 0;
    int sh = 0;
    /* Two loops rather than a width test per term: this is the rescoring hot path. */
    if (s->id_bytes == 2) {
        const uint16_t *id = s->fwd_ids;
        for (uint64_t i = i0; i < i1; i++) {
            float qv = qloc[id[i]];
            if (qv != 0) sum += (double)qv * (double)w[i], sh = 1;
        }
    } else {
        const uint32_t *id = s->fwd_ids;
        for (uint64_t i = i0; i < i1; i++) {
            float qv = qloc[id[i]];
            if (qv != 0) sum += (double)qv * (double)w[i], sh = 1;
        }
    }
    *shares = sh;
    return sum;
}

/* The segment's query terms: local number and weight. */
typedef struct {
    uint32_t lt;
    float w;
} qterm;

/* Heaviest reach first: |q| * scale (the most the term can add, in impact units of 127). */
static int cmp_qterm_reach(const void *a, const void *b, void *ctx) {
    const float *scale = ctx;
    const qterm *x = a, *y = b;
    float rx = fabsf(x->w) * scale[x->lt], ry = fabsf(y->w) * scale[y->lt];
    if (rx != ry) return rx > ry ? -1 : 1;
    return x->lt < y->lt ? -1 : x->lt > y->lt;
}

static qterm *map_terms(const sp_seg *s, const sp_query *q, uint32_t *n) {
    qterm *t = malloc(((size_t)q->n + 1) * sizeof *t);
    *n = 0;
    if (!t) return NULL;
    for (uint32_t i = 0; i < q->n; i++) {
        int64_t lt = silt_spseg_local_term(s, q->ids[i]);
        if (lt >= 0) t[*n].lt = (uint32_t)lt, t[*n].w = q->w[i], (*n)++;
    }
    return t;
}

/* A candidate document and its partial (quantised) score. */
typedef struct cand {
    float a;
    uint32_t d;
} cand;

/* Reading a query term's postings (its whole list, or its head) a chunk of documents at a
 * time: every term is advanced through one chunk before the next, so that the partial scores
 * of a chunk stay in cache while all the terms add to them. Term at a time over the whole
 * segment, a head's postings are far apart and each addition missed the cache. */
typedef struct {
    const uint8_t *p, *e; /* stream position (at the pending posting's payload) and end */
    uint32_t at;          /* pending posting's document (head) or block (list) */
    int head;             /* reading the head stream */
    int admit;            /* 1: may add documents; 0: only adds to touched documents */
    float c;              /* query weight x scale */
} tcursor;

/* Documents per chunk: near 32K (128 KiB of partial scores), a multiple of block_docs (a
 * list's block is applied whole) and of 64 (a chunk's candidates are collected a word of the
 * touched bitset at a time). */
static uint32_t chunk_docs(const sp_seg *s) {
    uint32_t l = s->block_docs;
    while (l % 64) l += s->block_docs; /* least common multiple of 64 and block_docs */
    uint32_t n = (32768 / l) * l;
    return n ? n : l;
}

static void cursor_open(const sp_seg *s, tcursor *t, uint32_t lt, float c, int head, int admit) {
    t->head = head, t->admit = admit, t->c = c;
    t->p = head ? s->head + s->head_off[lt] : s->post + s->post_off[lt];
    t->e = head ? s->head + s->head_off[lt + 1] : s->post + s->post_off[lt + 1];
    t->at = t->p < t->e ? silt_vget(&t->p) : UINT32_MAX;
}

/* Next varint of a head stream (see cursor_run). */
static inline uint32_t head_gap(const uint8_t **pp) {
    const uint8_t *p = *pp;
    uint32_t b0 = p[0], b1 = p[1], two = b0 >> 7;
    if (__builtin_expect(two & (b1 >> 7), 0)) return silt_vget(pp);
    *pp = p + 1 + two;
    return (b0 & 0x7f) | ((b1 << 7) & (0u - two));
}

/* Applies the cursor's postings of documents below doc_end (a chunk boundary). */
static void cursor_run(const sp_seg *s, tcursor *t, uint32_t doc_end, float *acc, uint64_t *touched) {
    const float c = t->c;
    if (t->head) {
        /* A head holds about one document in 1/prune, so its gaps straddle 128: decoding their
         * varints with a branch on the first byte mispredicts on a good share of postings.
         * Gaps below 2^14 (one or two bytes) are decoded without a branch; longer ones, rare,
         * take silt_vget. The streams are padded, so reading a byte past the last is safe. */
        const uint8_t *p = t->p, *e = t->e;
        uint32_t d = t->at;
        if (t->admit) {
            while (d < doc_end) {
                acc[d] += c * (float)(int8_t)*p++;
                touched[d >> 6] |= (uint64_t)1 << (d & 63);
                if (p >= e) {
                    d = UINT32_MAX;
                    break;
                }
                d += head_gap(&p);
            }
        } else {
            while (d < doc_end) {
                float add = c * (float)(int8_t)*p++;
                if ((touched[d >> 6] >> (d & 63)) & 1) acc[d] += add;
                if (p >= e) {
                    d = UINT32_MAX;
                    break;
                }
                d += head_gap(&p);
            }
        }
        t->p = p, t->at = d;
        return;
    }
    const uint32_t B = s->block_docs;
    while (t->at != UINT32_MAX && t->at * B < doc_end) {
        uint32_t b = t->at, cnt = (uint32_t)*t->p++ + 1, base = b * B;
        const uint8_t *q = t->p;
        if (t->admit) {
            for (uint32_t j = 0; j < cnt; j++, q += 2) {
                uint32_t d = base + q[0];
                acc[d] += c * (float)(int8_t)q[1];
                touched[d >> 6] |= (uint64_t)1 << (d & 63);
            }
        } else {
            for (uint32_t j = 0; j < cnt; j++, q += 2) {
                uint32_t d = base + q[0];
                if ((touched[d >> 6] >> (d & 63)) & 1) acc[d] += c * (float)(int8_t)q[1];
            }
        }
        t->p = q;
        t->at = t->p < t->e ? b + silt_vget(&t->p) : UINT32_MAX;
    }
}

/* Candidate heap order: higher partial first, then smaller document (as cmp_cand_desc). */
static inline int cand_before(const cand *x, const cand *y) {
    return x->a > y->a || (x->a == y->a && x->d < y->d);
}

static void cand_sift(cand *c, size_t n, size_t i) {
    cand v = c[i];
    for (;;) {
        size_t l = 2 * i + 1, m = l + 1 < n && cand_before(&c[l + 1], &c[l]) ? l + 1 : l;
        if (l >= n || !cand_before(&c[m], &v)) break;
        c[i] = c[m], i = m;
    }
    c[i] = v;
}

/* Asks for the cache lines of document d's term numbers and quantised weights. */
static inline void prefetch_doc_q(const sp_seg *s, uint32_t d) {
    uint64_t i0 = s->fwd_first[d], i1 = s->fwd_first[d + 1];
    const char *p = (const char *)(s->fwd_q + i0), *e = (const char *)(s->fwd_q + i1);
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p);
    p = (const char *)s->fwd_ids + i0 * s->id_bytes, e = (const char *)s->fwd_ids + i1 * s->id_bytes;
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64) __builtin_prefetch(p);
}

/* Document d's score from its quantised weights, qc[lt] = query weight x scale[lt] (0 for
 * terms not in the query). *e bounds |this - the exact score| (half an impact unit per
 * shared term, plus float rounding, as err_q); *sh is set when d shares a query term. */
static inline double approx_score(const sp_seg *s, uint32_t d, const float *qc, double *e, int *sh) {
    uint64_t i0 = s->fwd_first[d], i1 = s->fwd_first[d + 1];
    const int8_t *iq = s->fwd_q;
    double sum = 0, ea = 0;
    if (s->id_bytes == 2) {
        const uint16_t *id = s->fwd_ids;
        for (uint64_t i = i0; i < i1; i++) {
            float c = qc[id[i]];
            sum += (double)c * iq[i], ea += fabsf(c);
        }
    } else {
        const uint32_t *id = s->fwd_ids;
        for (uint64_t i = i0; i < i1; i++) {
            float c = qc[id[i]];
            sum += (double)c * iq[i], ea += fabsf(c);
        }
    }
    *sh = ea > 0;
    *e = ea * (0.5 + 127 * 1e-5);
    return sum;
}

/* Min-heap of doubles (lower bounds of scores), capacity k. */
static void lo_push(double *lo, uint32_t *n, uint32_t k, double v) {
    if (*n < k) {
        uint32_t j = (*n)++;
        for (; j > 0 && lo[(j - 1) / 2] > v; j = (j - 1) / 2) lo[j] = lo[(j - 1) / 2];
        lo[j] = v;
        return;
    }
    if (!(v > lo[0])) return;
    uint32_t j = 0;
    for (;;) {
        uint32_t l = 2 * j + 1, m = l + 1 < *n && lo[l + 1] < lo[l] ? l + 1 : l;
        if (l >= *n || lo[m] >= v) break;
        lo[j] = lo[m], j = m;
    }
    lo[j] = v;
}

/* Rescores the candidates cd[0..n) (a heap, best partial first) into h. Two stages: each
 * candidate, in order, gets its score from the quantised forward index (3 bytes a term) with
 * an error bound, until the stopping rule (exact: the candidate's bound cannot beat the k-th;
 * fast: its partial is below heap_factor x the k-th), where "the k-th" is the k-th best lower
 * bound (exact scores in h, quantised scores minus their error) and so never above the true
 * k-th best; then only the candidates whose upper bound reaches that k-th lower bound, which
 * are all that can enter the top k, are scored exactly from the float weights. */
static int rescore(const sp_seg *s, const sp_search_opts *o, cand *cd, size_t n, double err_q,
                   double rest, sp_scratch *w, sp_heap *h) {
    if (!n) return 0;
    const float *qc = w->qc;
    uint32_t k = h->k, n_lo = 0;
    double *lo = malloc((size_t)k * sizeof *lo);
    if (!lo) return -1;
    for (uint32_t i = 0; i < h->n; i++) lo_push(lo, &n_lo, k, h->score[i]);
    size_t n_rs = 0;
    const double hf = o->heap_factor;
    /* Candidates leave the heap AHEAD steps before they are scored: their fwd_first entry is
     * fetched at once and their terms half way, so that the misses of several documents
     * overlap instead of forming a chain. */
    enum { AHEAD = 16, HALF = AHEAD / 2 };
    cand ring[AHEAD];
    uint64_t n_in = 0, n_out = 0;
    int rc = 0;
    for (;;) {
        while (n_in < n_out + AHEAD && n) {
            cand c = cd[0];
            cd[0] = cd[--n];
            cand_sift(cd, n, 0);
            ring[n_in % AHEAD] = c;
            __builtin_prefetch(&s->fwd_first[c.d]);
            if (n_in >= n_out + HALF) prefetch_doc_q(s, ring[(n_in - HALF) % AHEAD].d);
            n_in++;
        }
        if (n_out == n_in) break;
        cand c = ring[n_out++ % AHEAD];
        if (n_lo == k) {
            /* Exact: stop once even the bound (partial + what it may lack) cannot beat the
             * k-th. Fast: stop once the partial, which skips the unread postings, falls below
             * heap_factor times the k-th (with nothing unread and heap_factor 1, the same
             * exact rule). */
            double theta = lo[0];
            double reach = o->exact ? (double)c.a + err_q + rest : (double)c.a + err_q;
            double bar_i = o->exact || theta <= 0 ? theta : hf * theta;
            if (reach < bar_i) break;
        }
        double e;
        int sh;
        double a = approx_score(s, c.d, qc, &e, &sh);
        if (!sh) continue;
        if (n_rs == w->rs_cap) {
            size_t nc = w->rs_cap ? 2 * w->rs_cap : 1024;
            resc *g = realloc(w->rs, nc * sizeof *g);
            if (!g) {
                rc = -1;
                break;
            }
            w->rs = g, w->rs_cap = nc;
        }
        w->rs[n_rs].a = a, w->rs[n_rs].e = e, w->rs[n_rs++].d = c.d;
        lo_push(lo, &n_lo, k, a - e);
    }
    double theta = n_lo == k ? lo[0] : -INFINITY;
    for (size_t i = 0; i < n_rs && !rc; i++) {
        if (w->rs[i].a + w->rs[i].e < theta) continue;
        int sh;
        double sc = silt_spseg_score(s, w->rs[i].d, w->qloc, &sh);
        silt_sp_heap_push(h, sc, s->rowids[w->rs[i].d]);
    }
    free(lo);
    return rc;
}

int silt_spseg_search(const sp_seg *s, const sp_query *q, const uint64_t *allow,
                      const sp_search_opts *o, sp_heap *h, char **err) {
    if (h->k == 0 || s->n_docs == s->n_dead) return 0;
    if (!o->exact && o->block_max > 0) return silt_spbmp_search(s, q, allow, o->block_max, h, err);
    uint32_t nq = 0;
    qterm *qt = map_terms(s, q, &nq);
    uint32_t *lts = malloc(((size_t)nq + 1) * sizeof *lts);
    int owned = 1;
    sp_scratch *w = qt && lts && nq ? scratch_take(s, &owned) : NULL;
    int rc = -1;
    if (!qt || !lts || (nq && !w)) goto oom;
    if (nq == 0) {
        rc = 0;
        goto done;
    }
    float *acc = w->acc, *qloc = w->qloc;
    uint64_t *touched = w->touched;
    for (uint32_t i = 0; i < nq; i++)
        qloc[qt[i].lt] = qt[i].w, w->qc[qt[i].lt] = qt[i].w * s->scale[qt[i].lt], lts[i] = qt[i].lt;
    /* Heaviest first: |q| * max|w| is the most a term can add to a score. */
    qsort_r(qt, nq, sizeof *qt, cmp_qterm_reach, s->scale);
    uint32_t n_use = !o->exact && o->query_terms && o->query_terms < nq ? o->query_terms : nq;
    /* err_q bounds |partial - exact sum over the postings read| (half an impact unit per
     * term plus room for float rounding); rest bounds what unread postings can add. */
    double err_q = 0, rest = 0;
    tcursor *cur = malloc((size_t)nq * sizeof *cur);
    if (!cur) goto oom;
    for (uint32_t i = 0; i < nq; i++) {
        uint32_t lt = qt[i].lt;
        float c = qt[i].w * s->scale[lt];
        double ac = fabs((double)c);
        int head = !o->exact && s->keep[lt];
        /* Beyond the query cut a term only refines the candidates the heavier terms admitted;
         * a document it alone would bring in is not looked at. */
        cursor_open(s, &cur[i], lt, c, head, i < n_use);
        err_q += ac * (0.5 + 127 * 1e-5);
        if (i >= n_use) rest += ac * 127.5;
        else if (head) rest += ac * ((double)s->keep[lt] - 0.5);
    }
    /* With no negative weight, a document's score is at least its partial minus err_q, so
     * the k-th best score will be at least the k-th best partial minus err_q: candidates
     * below `bar` (the stopping rule of the rescoring loop applied to that bound) can never
     * be rescored and are not kept. The k best partials seen so far only grow, so a bar
     * computed from them while reading is never above the final one. */
    int no_negative = !s->has_negative;
    for (uint32_t i = 0; i < nq && no_negative; i++) no_negative = qt[i].w > 0;
    const double bar_f = o->exact ? 1.0 : o->heap_factor;
    float *top = no_negative ? malloc((size_t)h->k * sizeof *top) : NULL; /* min-heap of partials */
    if (no_negative && !top) {
        free(cur);
        goto oom;
    }
    uint32_t n_top = 0;
    double bar = -INFINITY;
    size_t n_keep = 0;
    int lost = 0; /* the candidate array could not grow: finish clearing, then fail */
    for (uint32_t lo_doc = 0, step = chunk_docs(s); lo_doc < s->n_docs; lo_doc += step) {
        uint32_t end = s->n_docs - lo_doc > step ? lo_doc + step : s->n_docs;
        for (uint32_t i = 0; i < nq; i++) cursor_run(s, &cur[i], end, acc, touched);
        /* The chunk's partials are final: collect its candidates while they are in cache, and
         * clear them there too, rather than in later passes over every touched document of
         * the segment (which at a million documents miss the cache). */
        for (size_t wi = lo_doc / 64, we = ((size_t)end + 63) / 64; wi < we; wi++) {
            uint64_t t = touched[wi];
            if (!t) continue;
            touched[wi] = 0;
            uint64_t live = t & ~s->dead[wi];
            if (allow) live &= allow[wi];
            for (; t; t &= t - 1) {
                uint32_t d = (uint32_t)(wi * 64 + (uint32_t)__builtin_ctzll(t));
                float a = acc[d];
                acc[d] = 0;
                if (!((live >> (d & 63)) & 1) || (double)a < bar) continue;
                if (n_keep == w->cap && !lost) {
                    size_t nc = w->cap ? 2 * w->cap : 4096;
                    cand *g = realloc(w->sorted, nc * sizeof *g);
                    if (g) w->sorted = g, w->cap = nc;
                    else lost = 1;
                }
                if (lost) continue;
                w->sorted[n_keep].a = a, w->sorted[n_keep++].d = d;
                if (!top) continue;
                if (n_top < h->k) {
                    uint32_t j = n_top++;
                    for (; j > 0 && top[(j - 1) / 2] > a; j = (j - 1) / 2) top[j] = top[(j - 1) / 2];
                    top[j] = a;
                } else if (a > top[0]) {
                    uint32_t j = 0;
                    for (;;) {
                        uint32_t l = 2 * j + 1, m = l + 1 < n_top && top[l + 1] < top[l] ? l + 1 : l;
                        if (l >= n_top || top[m] >= a) break;
                        top[j] = top[m], j = m;
                    }
                    top[j] = a;
                } else {
                    continue;
                }
                if (n_top == h->k && top[0] - err_q > 0) bar = bar_f * ((double)top[0] - err_q) - err_q;
            }
        }
    }
    free(cur);
    free(top);
    if (lost) goto oom;
    /* Drop what the final bar excludes, then take candidates best partial first from a binary
     * heap: most searches stop after a few dozen, so sorting them all would be wasted. */
    cand *cd = w->sorted;
    {
        size_t n = 0;
        for (size_t i = 0; i < n_keep; i++)
            if ((double)cd[i].a >= bar) cd[n++] = cd[i];
        n_keep = n;
    }
    for (size_t i = n_keep / 2; i-- > 0;) cand_sift(cd, n_keep, i);
    if (rescore(s, o, cd, n_keep, err_q, rest, w, h)) goto oom;
    if (rest > 0 && h->n < h->k) {
        /* Unread postings may hold more matching documents than were found: read them all. */
        heap_drop_segment(h, s);
        scratch_give(s, w, owned, lts, nq);
        free(qt), free(lts);
        sp_search_opts ex = {1, 1.0, 0, 0};
        return silt_spseg_search(s, q, allow, &ex, h, err);
    }
    rc = 0;
    goto done;
oom:
    silt_err(err, "out of memory in a sparse search over %u documents", s->n_docs);
done:
    scratch_give(s, w, owned, lts, nq);
    free(qt), free(lts);
    return rc;
}
