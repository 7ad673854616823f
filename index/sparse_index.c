/* sparse_index.c: the learned-sparse index (see sparse_index.h): memtable + immutable
 * segments (index/sparse_segment.c), merge policy, search over all of them, serialisation. */
#include "index/sparse_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "index/sparse_segment.h"

/* Segments of the same size level (size / memtable_docs, in powers of MERGE_FANOUT) merge
 * when MERGE_FANOUT of them are the newest. */
#define MERGE_FANOUT 4

/* Open-addressing map rowid -> memtable slot (linear probing, backward-shift deletion). */
typedef struct {
    int64_t *key;
    uint32_t *val; /* UINT32_MAX = empty */
    uint32_t mask, n;
} rowmap;

/* Unsealed documents: parallel arrays, terms in one pool. Removing swaps the last document
 * into the hole; pool space of removed documents is reclaimed when the memtable is sealed. */
typedef struct {
    uint32_t n, cap;
    int64_t *rowid;
    uint64_t *first; /* start of each document in ids/w */
    uint32_t *len;   /* terms of each document */
    uint32_t *ids;
    float *w;
    uint64_t pool_n, pool_cap;
    rowmap map;
} memtab;

struct silt_spidx {
    silt_spidx_config cfg;
    sp_seg **seg;      /* segments, oldest (largest) first */
    uint32_t n_seg, cap_seg;
    memtab mem;
    int deferred;      /* silt_spidx_add only buffers (silt_spidx_set_deferred) */
};

/* ---- rowid map ------------------------------------------------------------------------------ */

static inline uint32_t rm_hash(int64_t k) {
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}
static int rm_init(rowmap *m, uint32_t size_pow2) {
    m->key = malloc((size_t)size_pow2 * sizeof *m->key);
    m->val = malloc((size_t)size_pow2 * sizeof *m->val);
    if (!m->key || !m->val) {
        free(m->key), free(m->val);
        m->key = NULL, m->val = NULL;
        return -1;
    }
    memset(m->val, 0xff, (size_t)size_pow2 * sizeof *m->val);
    m->mask = size_pow2 - 1;
    m->n = 0;
    return 0;
}
static void rm_free(rowmap *m) {
    free(m->key), free(m->val);
    memset(m, 0, sizeof *m);
}
static uint32_t rm_slot(const rowmap *m, int64_t k) {
    uint32_t i = rm_hash(k) & m->mask;
    while (m->val[i] != UINT32_MAX && m->key[i] != k) i = (i + 1) & m->mask;
    return i;
}
static uint32_t rm_get(const rowmap *m, int64_t k) { return m->key ? m->val[rm_slot(m, k)] : UINT32_MAX; }
static int rm_put(rowmap *m, int64_t k, uint32_t v) {
    if (!m->key && rm_init(m, 1024)) return -1;
    if ((m->n + 1) * 2 > m->mask + 1) {
        rowmap g;
        if (rm_init(&g, (m->mask + 1) * 2)) return -1;
        for (uint32_t i = 0; i <= m->mask; i++)
            if (m->val[i] != UINT32_MAX) {
                uint32_t j = rm_slot(&g, m->key[i]);
                g.key[j] = m->key[i], g.val[j] = m->val[i], g.n++;
            }
        rm_free(m);
        *m = g;
    }
    uint32_t i = rm_slot(m, k);
    if (m->val[i] == UINT32_MAX) m->n++;
    m->key[i] = k, m->val[i] = v;
    return 0;
}
static void rm_del(rowmap *m, int64_t k) {
    if (!m->key) return;
    uint32_t i = rm_slot(m, k);
    if (m->val[i] == UINT32_MAX) return;
    m->val[i] = UINT32_MAX;
    m->n--;
    /* Backward shift: move later entries of the probe run into the hole when allowed. */
    for (uint32_t j = (i + 1) & m->mask; m->val[j] != UINT32_MAX; j = (j + 1) & m->mask) {
        uint32_t home = rm_hash(m->key[j]) & m->mask;
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->key[i] = m->key[j], m->val[i] = m->val[j];
            m->val[j] = UINT32_MAX;
            i = j;
        }
    }
}

/* ---- memtable ------------------------------------------------------------------------------- */

static void mem_free(memtab *t) {
    free(t->rowid), free(t->first), free(t->len), free(t->ids), free(t->w);
    rm_free(&t->map);
    memset(t, 0, sizeof *t);
}

static int mem_add(memtab *t, int64_t rowid, const uint32_t *ids, const float *w, uint32_t n) {
    if (t->n == t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 64;
        int64_t *r = realloc(t->rowid, (size_t)nc * sizeof *r);
        if (!r) return -1;
        t->rowid = r;
        uint64_t *f = realloc(t->first, (size_t)nc * sizeof *f);
        if (!f) return -1;
        t->first = f;
        uint32_t *l = realloc(t->len, (size_t)nc * sizeof *l);
        if (!l) return -1;
        t->len = l;
        t->cap = nc;
    }
    if (t->pool_cap - t->pool_n < n) {
        uint64_t nc = t->pool_cap ? t->pool_cap * 2 : 4096;
        while (nc - t->pool_n < n) nc *= 2;
        uint32_t *a = realloc(t->ids, nc * sizeof *a);
        if (!a) return -1;
        t->ids = a;
        float *b = realloc(t->w, nc * sizeof *b);
        if (!b) return -1;
        t->w = b;
        t->pool_cap = nc;
    }
    if (rm_put(&t->map, rowid, t->n)) return -1;
    memcpy(t->ids + t->pool_n, ids, (size_t)n * sizeof *ids);
    memcpy(t->w + t->pool_n, w, (size_t)n * sizeof *w);
    t->rowid[t->n] = rowid, t->first[t->n] = t->pool_n, t->len[t->n] = n;
    t->pool_n += n;
    t->n++;
    return 0;
}

static void mem_remove_at(memtab *t, uint32_t i) {
    rm_del(&t->map, t->rowid[i]);
    uint32_t last = --t->n;
    if (i != last) {
        t->rowid[i] = t->rowid[last], t->first[i] = t->first[last], t->len[i] = t->len[last];
        t->map.val[rm_slot(&t->map, t->rowid[i])] = i;
    }
    if (t->n == 0) t->pool_n = 0;
}

/* ---- index ---------------------------------------------------------------------------------- */

void silt_spidx_config_default(silt_spidx_config *c) {
    c->block_docs = SILT_SPIDX_BLOCK_DOCS;
    c->prune = 1;
    c->memtable_docs = SILT_SPIDX_MEMTABLE_DOCS;
}

int silt_spidx_config_check(const silt_spidx_config *c, char **err) {
    if (c->block_docs < 1 || c->block_docs > 256)
        return silt_err(err, "block_docs must be an integer from 1 to 256 (got %u)", c->block_docs);
    if (!(c->prune > 0 && c->prune <= 1))
        return silt_err(err, "prune must be a number in (0, 1] (got %g)", (double)c->prune);
    if (c->memtable_docs < 1 || c->memtable_docs > (1u << 30))
        return silt_err(err, "memtable_docs must be an integer from 1 to 2^30 (got %u)",
                        c->memtable_docs);
    return 0;
}

silt_spidx *silt_spidx_new(const silt_spidx_config *c, char **err) {
    silt_spidx_config d;
    silt_spidx_config_default(&d);
    if (c) d = *c;
    if (silt_spidx_config_check(&d, err)) return NULL;
    silt_spidx *ix = calloc(1, sizeof *ix);
    if (!ix) return silt_err(err, "out of memory for a sparse index"), NULL;
    ix->cfg = d;
    return ix;
}

void silt_spidx_free(silt_spidx *ix) {
    if (!ix) return;
    for (uint32_t i = 0; i < ix->n_seg; i++) silt_spseg_free(ix->seg[i]);
    free(ix->seg);
    mem_free(&ix->mem);
    free(ix);
}

int silt_spidx_set_config(silt_spidx *ix, const silt_spidx_config *c, char **err) {
    if (silt_spidx_config_check(c, err)) return -1;
    ix->cfg = *c;
    return 0;
}

void silt_spidx_get_config(const silt_spidx *ix, silt_spidx_config *c) { *c = ix->cfg; }

/* Where a rowid lives: segment index (or -1 for the memtable) and local number. */
static int locate(const silt_spidx *ix, int64_t rowid, int32_t *seg, uint32_t *local) {
    uint32_t m = rm_get(&ix->mem.map, rowid);
    if (m != UINT32_MAX) {
        *seg = -1, *local = m;
        return 1;
    }
    for (uint32_t i = ix->n_seg; i-- > 0;) {
        int64_t d = silt_spseg_find(ix->seg[i], rowid);
        if (d >= 0) {
            *seg = (int32_t)i, *local = (uint32_t)d;
            return 1;
        }
    }
    return 0;
}

int silt_spidx_contains(const silt_spidx *ix, int64_t rowid) {
    int32_t s;
    uint32_t l;
    return locate(ix, rowid, &s, &l);
}

uint64_t silt_spidx_count(const silt_spidx *ix) {
    uint64_t n = ix->mem.n;
    for (uint32_t i = 0; i < ix->n_seg; i++) n += ix->seg[i]->n_docs - ix->seg[i]->n_dead;
    return n;
}

/* Merge sources: every live document of some segments and/or the memtable, in rowid order. */
typedef struct {
    int64_t rowid;
    int32_t src;  /* segment index, -1 = memtable */
    uint32_t local;
} src_doc;

typedef struct {
    const silt_spidx *ix;
    src_doc *docs;
    uint32_t *ids;
    float *w;
    size_t cap;
} merge_src;

static int cmp_src_doc(const void *a, const void *b) {
    int64_t x = ((const src_doc *)a)->rowid, y = ((const src_doc *)b)->rowid;
    return x < y ? -1 : x > y;
}

static int merge_get(void *ctx, uint32_t i, sp_doc *doc, char **err) {
    merge_src *m = ctx;
    const src_doc *s = &m->docs[i];
    doc->rowid = s->rowid;
    if (s->src < 0) {
        const memtab *t = &m->ix->mem;
        doc->n = t->len[s->local];
        doc->ids = t->ids + t->first[s->local];
        doc->w = t->w + t->first[s->local];
        return 0;
    }
    int64_t n = silt_spseg_doc(m->ix->seg[s->src], s->local, &m->ids, &m->w, &m->cap);
    if (n < 0) return silt_err(err, "out of memory merging sparse index segments");
    doc->n = (uint32_t)n, doc->ids = m->ids, doc->w = m->w;
    return 0;
}

/* Builds one segment from segments [from, to) (and the memtable when with_mem) and puts it
 * in their place; the memtable is emptied when used. */
static int merge_range(silt_spidx *ix, uint32_t from, uint32_t to, int with_mem, char **err) {
    uint64_t n = with_mem ? ix->mem.n : 0;
    for (uint32_t i = from; i < to; i++) n += ix->seg[i]->n_docs - ix->seg[i]->n_dead;
    if (n > UINT32_MAX - 1) return silt_err(err, "a sparse index segment holds at most 2^32-2 rows");
    merge_src m = {ix, malloc((n + 1) * sizeof(src_doc)), NULL, NULL, 0};
    if (!m.docs) return silt_err(err, "out of memory merging sparse index segments");
    uint64_t k = 0;
    if (with_mem)
        for (uint32_t j = 0; j < ix->mem.n; j++) m.docs[k++] = (src_doc){ix->mem.rowid[j], -1, j};
    for (uint32_t i = from; i < to; i++)
        for (uint32_t d = 0; d < ix->seg[i]->n_docs; d++)
            if (!silt_spseg_is_dead(ix->seg[i], d))
                m.docs[k++] = (src_doc){ix->seg[i]->rowids[d], (int32_t)i, d};
    qsort(m.docs, n, sizeof *m.docs, cmp_src_doc);
    sp_seg *s = NULL;
    if (n) {
        s = silt_spseg_build(merge_get, &m, (uint32_t)n, ix->cfg.block_docs, ix->cfg.prune, err);
        free(m.ids), free(m.w), free(m.docs);
        if (!s) return -1;
    } else {
        free(m.docs);
    }
    for (uint32_t i = from; i < to; i++) silt_spseg_free(ix->seg[i]);
    uint32_t removed = to - from;
    if (s) {
        if (from == to) {
            if (ix->n_seg == ix->cap_seg) {
                uint32_t nc = ix->cap_seg ? ix->cap_seg * 2 : 8;
                sp_seg **p = realloc(ix->seg, nc * sizeof *p);
                if (!p) {
                    silt_spseg_free(s);
                    return silt_err(err, "out of memory for sparse index segments");
                }
                ix->seg = p, ix->cap_seg = nc;
            }
            memmove(ix->seg + from + 1, ix->seg + from, (ix->n_seg - from) * sizeof *ix->seg);
            ix->n_seg++;
        } else {
            memmove(ix->seg + from + 1, ix->seg + to, (ix->n_seg - to) * sizeof *ix->seg);
            ix->n_seg -= removed - 1;
        }
        ix->seg[from] = s;
    } else {
        if (to < ix->n_seg) memmove(ix->seg + from, ix->seg + to, (ix->n_seg - to) * sizeof *ix->seg);
        ix->n_seg -= removed;
    }
    if (with_mem) {
        mem_free(&ix->mem);
    }
    return 0;
}

static uint32_t level_of(const silt_spidx *ix, const sp_seg *s) {
    uint64_t live = s->n_docs - s->n_dead, unit = ix->cfg.memtable_docs;
    uint32_t lv = 0;
    while (live > unit * MERGE_FANOUT) unit *= MERGE_FANOUT, lv++;
    return lv;
}

/* Seals a full memtable, then merges runs of MERGE_FANOUT same-level segments and compacts
 * segments that are mostly dead. */
static int maintain(silt_spidx *ix, char **err) {
    if (ix->mem.n >= ix->cfg.memtable_docs && merge_range(ix, ix->n_seg, ix->n_seg, 1, err))
        return -1;
    for (;;) {
        uint32_t n = ix->n_seg;
        if (n < MERGE_FANOUT) break;
        uint32_t lv = level_of(ix, ix->seg[n - 1]), same = 1;
        for (uint32_t i = n - MERGE_FANOUT; i < n - 1; i++) same &= level_of(ix, ix->seg[i]) == lv;
        if (!same) break;
        if (merge_range(ix, n - MERGE_FANOUT, n, 0, err)) return -1;
    }
    for (uint32_t i = 0; i < ix->n_seg; i++) {
        sp_seg *s = ix->seg[i];
        if (s->n_dead * 2 > s->n_docs && s->n_docs >= ix->cfg.memtable_docs) {
            if (merge_range(ix, i, i + 1, 0, err)) return -1;
        }
    }
    return 0;
}

int silt_spidx_add(silt_spidx *ix, int64_t rowid, const silt_sparse_vec *v, char **err) {
    for (uint32_t j = 0; j < v->n; j++) {
        if (j && v->ids[j] <= v->ids[j - 1])
            return silt_err(err, "row %lld: term ids not strictly increasing (%u after %u)",
                            (long long)rowid, v->ids[j], v->ids[j - 1]);
        if (!isfinite(v->weights[j]) || v->weights[j] == 0)
            return silt_err(err, "row %lld: weight of term %u is %g (expected a finite non-zero "
                                 "number)", (long long)rowid, v->ids[j], (double)v->weights[j]);
    }
    if (silt_spidx_contains(ix, rowid))
        return silt_err(err, "rowid %lld is already in the sparse index", (long long)rowid);
    if (mem_add(&ix->mem, rowid, v->ids, v->weights, v->n))
        return silt_err(err, "out of memory adding row %lld to the sparse index", (long long)rowid);
    return ix->deferred ? 0 : maintain(ix, err);
}

void silt_spidx_set_deferred(silt_spidx *ix, int on) { ix->deferred = on != 0; }

int silt_spidx_flush(silt_spidx *ix, char **err) { return maintain(ix, err); }

int silt_spidx_remove(silt_spidx *ix, int64_t rowid) {
    int32_t s;
    uint32_t l;
    if (!locate(ix, rowid, &s, &l)) return 0;
    if (s < 0) mem_remove_at(&ix->mem, l);
    else silt_spseg_kill(ix->seg[s], l);
    return 1;
}

int silt_spidx_get(const silt_spidx *ix, int64_t rowid, silt_sparse_vec *out, char **err) {
    int32_t s;
    uint32_t l;
    memset(out, 0, sizeof *out);
    if (!locate(ix, rowid, &s, &l)) return 0;
    if (s < 0) {
        uint32_t n = ix->mem.len[l];
        out->ids = malloc(((size_t)n + 1) * sizeof *out->ids);
        out->weights = malloc(((size_t)n + 1) * sizeof *out->weights);
        if (!out->ids || !out->weights) goto oom;
        memcpy(out->ids, ix->mem.ids + ix->mem.first[l], (size_t)n * sizeof *out->ids);
        memcpy(out->weights, ix->mem.w + ix->mem.first[l], (size_t)n * sizeof *out->weights);
        out->n = n;
        return 1;
    }
    size_t cap = 0;
    int64_t n = silt_spseg_doc(ix->seg[s], l, &out->ids, &out->weights, &cap);
    if (n < 0) goto oom;
    out->n = (uint32_t)n;
    return 1;
oom:
    silt_sparse_vec_free(out);
    silt_err(err, "out of memory reading row %lld of the sparse index", (long long)rowid);
    return -1;
}

int silt_spidx_optimize(silt_spidx *ix, char **err) {
    if (ix->n_seg == 1 && ix->mem.n == 0 && ix->seg[0]->n_dead == 0 &&
        ix->seg[0]->block_docs == ix->cfg.block_docs && ix->seg[0]->prune == ix->cfg.prune)
        return 0;
    return merge_range(ix, 0, ix->n_seg, 1, err);
}

int silt_spidx_foreach(const silt_spidx *ix, silt_spidx_visit_fn fn, void *ctx, char **err) {
    silt_sparse_vec v = {0};
    size_t cap = 0;
    int rc = 0;
    for (uint32_t i = 0; i < ix->n_seg && !rc; i++) {
        const sp_seg *s = ix->seg[i];
        for (uint32_t d = 0; d < s->n_docs && !rc; d++) {
            if (silt_spseg_is_dead(s, d)) continue;
            int64_t n = silt_spseg_doc(s, d, &v.ids, &v.weights, &cap);
            if (n < 0) {
                silt_sparse_vec_free(&v);
                return silt_err(err, "out of memory reading the sparse index");
            }
            v.n = (uint32_t)n;
            rc = fn(ctx, s->rowids[d], &v);
        }
    }
    silt_sparse_vec_free(&v);
    for (uint32_t j = 0; j < ix->mem.n && !rc; j++) {
        silt_sparse_vec m = {ix->mem.len[j], ix->mem.ids + ix->mem.first[j],
                             ix->mem.w + ix->mem.first[j]};
        rc = fn(ctx, ix->mem.rowid[j], &m);
    }
    return rc;
}

void silt_spidx_get_stats(const silt_spidx *ix, silt_spidx_stats *o) {
    memset(o, 0, sizeof *o);
    o->n_docs = silt_spidx_count(ix);
    o->n_segments = ix->n_seg;
    o->memtable_docs = ix->mem.n;
    o->bytes = sizeof *ix + ix->mem.cap * (8 + 8 + 4) + ix->mem.pool_cap * 8 +
               (uint64_t)(ix->mem.map.mask + (ix->mem.map.key ? 1 : 0)) * 12;
    for (uint32_t i = 0; i < ix->n_seg; i++) {
        o->n_dead += ix->seg[i]->n_dead;
        o->n_postings += ix->seg[i]->fwd_first[ix->seg[i]->n_docs];
        o->bytes += silt_spseg_bytes(ix->seg[i]);
    }
}

/* ---- search --------------------------------------------------------------------------------- */

/* Exact dot product of a sorted query with a sorted document (same summation order as
 * silt_spseg_score: ascending term id, products in double). */
static double dot_sorted(const silt_sparse_vec *q, const uint32_t *ids, const float *w, uint32_t n,
                         int *shares) {
    uint32_t i = 0, j = 0;
    double sum = 0;
    int sh = 0;
    while (i < q->n && j < n) {
        if (q->ids[i] < ids[j]) i++;
        else if (q->ids[i] > ids[j]) j++;
        else sum += (double)q->weights[i++] * (double)w[j++], sh = 1;
    }
    *shares = sh;
    return sum;
}

static int in_sorted(const int64_t *a, size_t n, int64_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == x;
}

static int cmp_hit(const void *a, const void *b) {
    const silt_spidx_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}

/* 1 when rowid passes the filter. */
static int passes(const silt_spidx_filter *f, int64_t rowid) {
    if (rowid < f->rowid_min || rowid > f->rowid_max) return 0;
    return !f->rowids || in_sorted(f->rowids, f->n_rowids, rowid);
}

/* Scores each listed rowid directly (a selective filter: cheaper than any index walk). */
static int search_rows(const silt_spidx *ix, const silt_sparse_vec *q, const silt_spidx_filter *f,
                       sp_heap *h, char **err) {
    float **qloc = calloc((size_t)ix->n_seg + 1, sizeof *qloc);
    if (!qloc) return silt_err(err, "out of memory in a filtered sparse search");
    sp_query sq = {q->n, q->ids, q->weights};
    int rc = 0;
    for (size_t i = 0; i < f->n_rowids; i++) {
        int32_t s;
        uint32_t l;
        int64_t r = f->rowids[i];
        if (r < f->rowid_min || r > f->rowid_max || !locate(ix, r, &s, &l)) continue;
        int sh;
        double sc;
        if (s < 0) {
            const memtab *t = &ix->mem;
            sc = dot_sorted(q, t->ids + t->first[l], t->w + t->first[l], t->len[l], &sh);
        } else {
            if (!qloc[s]) {
                uint32_t nf;
                qloc[s] = silt_spseg_map_query(ix->seg[s], &sq, &nf);
                if (!qloc[s]) {
                    rc = silt_err(err, "out of memory in a filtered sparse search");
                    break;
                }
            }
            sc = silt_spseg_score(ix->seg[s], l, qloc[s], &sh);
        }
        if (sh) silt_sp_heap_push(h, sc, r);
    }
    for (uint32_t s = 0; s < ix->n_seg; s++) free(qloc[s]);
    free(qloc);
    return rc;
}

/* Bitset over the local documents of s that pass f (a list: one merge walk over both sorted
 * sequences; a range: every document checked). */
static uint64_t *filter_bits(const sp_seg *s, const silt_spidx_filter *f) {
    uint64_t *b = calloc(((size_t)s->n_docs + 63) / 64 + 1, sizeof *b);
    if (!b) return NULL;
    if (f->rowids) {
        size_t j = 0;
        for (uint32_t i = 0; i < s->n_docs && j < f->n_rowids; i++) {
            uint32_t d = s->by_rowid[i];
            int64_t r = s->rowids[d];
            while (j < f->n_rowids && f->rowids[j] < r) j++;
            if (j < f->n_rowids && f->rowids[j] == r && r >= f->rowid_min && r <= f->rowid_max)
                b[d >> 6] |= (uint64_t)1 << (d & 63);
        }
    } else {
        for (uint32_t d = 0; d < s->n_docs; d++)
            if (s->rowids[d] >= f->rowid_min && s->rowids[d] <= f->rowid_max)
                b[d >> 6] |= (uint64_t)1 << (d & 63);
    }
    return b;
}

static int cmp_seg_size_desc(const void *a, const void *b, void *ctx) {
    sp_seg *const *seg = ctx;
    uint32_t x = seg[*(const uint32_t *)a]->n_docs, y = seg[*(const uint32_t *)b]->n_docs;
    return x > y ? -1 : x < y;
}

int silt_spidx_search(const silt_spidx *ix, const silt_sparse_vec *q, uint32_t k,
                      const silt_spidx_search_opts *o, const silt_spidx_filter *f,
                      silt_spidx_hit **hits, uint32_t *n_hits, char **err) {
    *hits = NULL;
    *n_hits = 0;
    silt_spidx_search_opts def = {0, 1.0, 0, 0};
    if (!o) o = &def;
    if (!(o->heap_factor > 0 && o->heap_factor <= 1))
        return silt_err(err, "heap_factor must be a number in (0, 1] (got %g)", o->heap_factor);
    if (!(o->block_max >= 0 && o->block_max <= 1))
        return silt_err(err, "block_max must be 0 (off) or a number in (0, 1] (got %g)", o->block_max);
    for (uint32_t j = 1; j < q->n; j++)
        if (q->ids[j] <= q->ids[j - 1])
            return silt_err(err, "query term ids not strictly increasing (%u after %u)", q->ids[j],
                            q->ids[j - 1]);
    if (f && !f->rowids && f->rowid_min == INT64_MIN && f->rowid_max == INT64_MAX) f = NULL;
    uint64_t total = silt_spidx_count(ix);
    if (f && f->rowids && f->n_rowids < total) total = f->n_rowids;
    uint32_t kk = (uint64_t)k < total ? k : (uint32_t)total;
    if (kk == 0 || q->n == 0 || (f && f->rowid_min > f->rowid_max)) return 0;
    sp_heap h = {malloc((size_t)kk * sizeof(double)), malloc((size_t)kk * sizeof(int64_t)), 0, kk};
    uint32_t *order = malloc(((size_t)ix->n_seg + 1) * sizeof *order);
    int rc = -1;
    if (!h.score || !h.rowid || !order) {
        silt_err(err, "out of memory for %u sparse search results", kk);
        goto done;
    }
    if (f && f->rowids && (uint64_t)f->n_rowids * 16 < silt_spidx_count(ix)) {
        if (search_rows(ix, q, f, &h, err)) goto done;
    } else {
        sp_query sq = {q->n, q->ids, q->weights};
        sp_search_opts so = {o->exact, o->heap_factor, o->query_terms, o->block_max};
        /* Largest segments first: their results raise the threshold for the small ones. */
        for (uint32_t i = 0; i < ix->n_seg; i++) order[i] = i;
        qsort_r(order, ix->n_seg, sizeof *order, cmp_seg_size_desc, ix->seg);
        for (uint32_t i = 0; i < ix->n_seg; i++) {
            const sp_seg *s = ix->seg[order[i]];
            uint64_t *bits = NULL;
            if (f && !(bits = filter_bits(s, f))) {
                silt_err(err, "out of memory in a filtered sparse search");
                goto done;
            }
            int r = silt_spseg_search(s, &sq, bits, &so, &h, err);
            free(bits);
            if (r) goto done;
        }
        const memtab *t = &ix->mem;
        for (uint32_t j = 0; j < t->n; j++) {
            if (f && !passes(f, t->rowid[j])) continue;
            int sh;
            double sc = dot_sorted(q, t->ids + t->first[j], t->w + t->first[j], t->len[j], &sh);
            if (sh) silt_sp_heap_push(&h, sc, t->rowid[j]);
        }
    }
    if (h.n) {
        silt_spidx_hit *out = malloc((size_t)h.n * sizeof *out);
        if (!out) {
            silt_err(err, "out of memory for %u sparse search results", h.n);
            goto done;
        }
        for (uint32_t i = 0; i < h.n; i++) out[i].rowid = h.rowid[i], out[i].score = h.score[i];
        qsort(out, h.n, sizeof *out, cmp_hit);
        *hits = out;
        *n_hits = h.n;
    }
    rc = 0;
done:
    free(h.score), free(h.rowid), free(order);
    return rc;
}

/* ---- serialisation -------------------------------------------------------------------------- */

/* Layout: "SPIX", version 1, block_docs, prune, memtable_docs, n_segments, the segments
 * (sparse_segment.c), memtable count, then per memtable document rowid, n, ids, weights. */
int silt_spidx_serialize(const silt_spidx *ix, void **out, size_t *n_bytes, char **err) {
    sp_buf b = {0};
    uint32_t hdr[5] = {1, ix->cfg.block_docs, 0, ix->cfg.memtable_docs, ix->n_seg};
    memcpy(&hdr[2], &ix->cfg.prune, 4);
    silt_spbuf_put(&b, "SPIX", 4);
    silt_spbuf_put(&b, hdr, sizeof hdr);
    for (uint32_t i = 0; i < ix->n_seg; i++) silt_spseg_write(ix->seg[i], &b);
    silt_spbuf_put(&b, &ix->mem.n, 4);
    for (uint32_t j = 0; j < ix->mem.n; j++) {
        silt_spbuf_put(&b, &ix->mem.rowid[j], 8);
        silt_spbuf_put(&b, &ix->mem.len[j], 4);
        silt_spbuf_put(&b, ix->mem.ids + ix->mem.first[j], (size_t)ix->mem.len[j] * 4);
        silt_spbuf_put(&b, ix->mem.w + ix->mem.first[j], (size_t)ix->mem.len[j] * 4);
    }
    if (b.oom) {
        free(b.p);
        return silt_err(err, "out of memory serialising the sparse index");
    }
    *out = b.p;
    *n_bytes = b.n;
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

silt_spidx *silt_spidx_deserialize(const void *data, size_t n_bytes, char **err) {
    const uint8_t *p = data;
    uint32_t hdr[5];
    if (n_bytes < 24 || memcmp(p, "SPIX", 4) != 0) {
        silt_err(err, "not a sparse index snapshot (bad header)");
        return NULL;
    }
    memcpy(hdr, p + 4, sizeof hdr);
    if (hdr[0] != 1) {
        silt_err(err, "sparse index snapshot version %u is not supported (expected 1)", hdr[0]);
        return NULL;
    }
    silt_spidx_config c = {hdr[1], 0, hdr[3]};
    memcpy(&c.prune, &hdr[2], 4);
    silt_spidx *ix = silt_spidx_new(&c, err);
    if (!ix) return silt_err_prefix(err, "sparse index snapshot"), NULL;
    size_t pos = 24;
    uint32_t n_seg = hdr[4];
    if (n_seg > (n_bytes - pos) / 24) goto trunc;
    ix->seg = calloc((size_t)n_seg + 1, sizeof *ix->seg);
    if (!ix->seg) goto oom;
    ix->cap_seg = n_seg + 1;
    for (uint32_t i = 0; i < n_seg; i++) {
        ix->seg[i] = silt_spseg_read(p, n_bytes, &pos, err);
        if (!ix->seg[i]) {
            silt_spidx_free(ix);
            return NULL;
        }
        ix->n_seg++;
    }
    uint32_t n_mem;
    if (n_bytes - pos < 4) goto trunc;
    memcpy(&n_mem, p + pos, 4);
    pos += 4;
    for (uint32_t j = 0; j < n_mem; j++) {
        int64_t rowid;
        uint32_t n;
        if (n_bytes - pos < 12) goto trunc;
        memcpy(&rowid, p + pos, 8);
        memcpy(&n, p + pos + 8, 4);
        pos += 12;
        if (n > (n_bytes - pos) / 8) goto trunc;
        silt_sparse_vec v = {n, malloc((size_t)n * 4 + 4), malloc((size_t)n * 4 + 4)};
        if (!v.ids || !v.weights) {
            silt_sparse_vec_free(&v);
            goto oom;
        }
        memcpy(v.ids, p + pos, (size_t)n * 4);
        memcpy(v.weights, p + pos + (size_t)n * 4, (size_t)n * 4);
        pos += (size_t)n * 8;
        int bad = 0;
        for (uint32_t i = 0; i < n; i++)
            bad |= (i && v.ids[i] <= v.ids[i - 1]) || !isfinite(v.weights[i]) || v.weights[i] == 0;
        int r = bad ? -1 : mem_add(&ix->mem, rowid, v.ids, v.weights, n);
        silt_sparse_vec_free(&v);
        if (bad) {
            silt_spidx_free(ix);
            silt_err(err, "sparse index snapshot is corrupt (memtable row %lld)", (long long)rowid);
            return NULL;
        }
        if (r) goto oom;
    }
    if (pos != n_bytes) {
        silt_spidx_free(ix);
        silt_err(err, "sparse index snapshot is corrupt (%zu bytes after its end)", n_bytes - pos);
        return NULL;
    }
    /* Every live rowid must be in exactly one place. */
    uint64_t n_live = silt_spidx_count(ix), k = 0;
    int64_t *all = malloc((n_live + 1) * sizeof *all);
    if (!all) goto oom;
    for (uint32_t i = 0; i < ix->n_seg; i++)
        for (uint32_t d = 0; d < ix->seg[i]->n_docs; d++)
            if (!silt_spseg_is_dead(ix->seg[i], d)) all[k++] = ix->seg[i]->rowids[d];
    for (uint32_t j = 0; j < ix->mem.n; j++) all[k++] = ix->mem.rowid[j];
    qsort(all, k, sizeof *all, cmp_i64);
    for (uint64_t i = 1; i < k; i++)
        if (all[i] == all[i - 1]) {
            long long dup = (long long)all[i];
            free(all);
            silt_spidx_free(ix);
            silt_err(err, "sparse index snapshot is corrupt (rowid %lld held twice)", dup);
            return NULL;
        }
    free(all);
    return ix;
trunc:
    silt_spidx_free(ix);
    silt_err(err, "sparse index snapshot is truncated");
    return NULL;
oom:
    silt_spidx_free(ix);
    silt_err(err, "out of memory reading a sparse index snapshot");
    return NULL;
}
