/* colset.c: value hashes, exact overlap and the DeepJoin column text (see colset.h). */
#include "index/colset.h"
#include "index/rowid_map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t silt_colset_hash(const char *s, size_t len) {
    /* FNV-1a, then a splitmix64 finaliser so that short, similar strings spread well. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    int64_t out;
    memcpy(&out, &h, sizeof out);
    return out;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

size_t silt_colset_unique(int64_t *h, size_t n) {
    if (n == 0) return 0;
    qsort(h, n, sizeof *h, cmp_i64);
    size_t o = 1;
    for (size_t i = 1; i < n; i++)
        if (h[i] != h[o - 1]) h[o++] = h[i];
    return o;
}

size_t silt_colset_overlap(const int64_t *a, size_t na, const int64_t *b, size_t nb) {
    size_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) i++;
        else if (a[i] > b[j]) j++;
        else n++, i++, j++;
    }
    return n;
}

char *silt_colset_text(const char *title, const char *column, const char *const *values,
                       const size_t *lens, size_t n, size_t max_bytes) {
    size_t max_len = 0, min_len = n ? (size_t)-1 : 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > max_len) max_len = lens[i];
        if (lens[i] < min_len) min_len = lens[i];
        sum += lens[i];
    }
    char head[512];
    int hn = snprintf(head, sizeof head, "%.200s. %.200s contains %zu values (%zu, %zu, %.1f):",
                      title, column, n, max_len, min_len, n ? (double)sum / (double)n : 0.0);
    if (hn < 0) return NULL;
    size_t cap = (size_t)hn + max_bytes + 4, o = (size_t)hn;
    char *s = malloc(cap);
    if (!s) return NULL;
    memcpy(s, head, (size_t)hn);
    for (size_t i = 0; i < n; i++) {
        size_t need = lens[i] + (i ? 2 : 1);
        if (o + need > (size_t)hn + max_bytes) break;
        s[o++] = i ? ',' : ' ';
        if (i) s[o++] = ' ';
        memcpy(s + o, values[i], lens[i]);
        o += lens[i];
    }
    s[o] = 0;
    return s;
}

/* ---- exact top-k overlap search (see colset.h) -------------------------------------- */

/* A query value and the length of its posting list. */
typedef struct {
    int64_t h;
    size_t len;
} qvalue;

/* Rarest first; equal lengths by hash, so the order (and the work done) is deterministic. */
static int cmp_qvalue(const void *a, const void *b) {
    const qvalue *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->h > y->h) - (x->h < y->h);
}

/* A column seen in the posting lists read so far. */
typedef struct {
    int64_t id;
    size_t count;  /* query values found in it, among the lists read */
    size_t size;   /* its distinct values, SIZE_MAX when unknown or not asked yet */
    int sized;     /* size was asked for (only when needed: asking costs a lookup) */
    int verified;  /* its exact overlap was computed and offered to the heap */
} cand;

/* A candidate in a verification order: key descending, then size and id ascending. */
typedef struct {
    size_t key, size, idx;
    int64_t id;
} pick;

static int cmp_pick(const void *a, const void *b) {
    const pick *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Is (ov_a, id_a) ranked before (ov_b, id_b): larger overlap, then smaller id. */
static int better(size_t ov_a, int64_t id_a, size_t ov_b, int64_t id_b) {
    return ov_a != ov_b ? ov_a > ov_b : id_a < id_b;
}

/* The k best hits so far: a heap whose root [0] is the worst of them. */
typedef struct {
    silt_colset_hit *h;
    size_t n, cap, k;
} hit_heap;

static void heap_swap(silt_colset_hit *a, silt_colset_hit *b) {
    silt_colset_hit t = *a;
    *a = *b;
    *b = t;
}

/* Would a column of (at most) overlap ov and this id enter the top k? */
static int heap_admits(const hit_heap *hp, size_t ov, int64_t id) {
    return ov > 0 && (hp->n < hp->k || better(ov, id, hp->h[0].overlap, hp->h[0].id));
}

/* Offers a verified column. Returns 0 or SILT_COLSET_NOMEM. */
static int heap_offer(hit_heap *hp, int64_t id, size_t ov) {
    if (!heap_admits(hp, ov, id)) return 0;
    size_t i;
    if (hp->n < hp->k) {
        if (hp->n == hp->cap) {
            /* k may be huge (a user's LIMIT); grow only as hits arrive. */
            size_t cap = hp->cap ? hp->cap * 2 : 16;
            if (cap > hp->k) cap = hp->k;
            silt_colset_hit *g = realloc(hp->h, cap * sizeof *g);
            if (!g) return SILT_COLSET_NOMEM;
            hp->h = g;
            hp->cap = cap;
        }
        i = hp->n++;
        hp->h[i] = (silt_colset_hit){id, ov};
        while (i > 0) { /* sift up: a parent is never better than its children */
            size_t up = (i - 1) / 2;
            if (!better(hp->h[up].overlap, hp->h[up].id, hp->h[i].overlap, hp->h[i].id)) break;
            heap_swap(&hp->h[up], &hp->h[i]);
            i = up;
        }
        return 0;
    }
    hp->h[0] = (silt_colset_hit){id, ov};
    for (i = 0;;) { /* sift down: the worse child comes up */
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < hp->n && better(hp->h[w].overlap, hp->h[w].id, hp->h[l].overlap, hp->h[l].id)) w = l;
        if (r < hp->n && better(hp->h[w].overlap, hp->h[w].id, hp->h[r].overlap, hp->h[r].id)) w = r;
        if (w == i) break;
        heap_swap(&hp->h[w], &hp->h[i]);
        i = w;
    }
    return 0;
}

static int cmp_hit(const void *a, const void *b) {
    const silt_colset_hit *x = a, *y = b;
    if (x->overlap != y->overlap) return x->overlap > y->overlap ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Largest overlap a candidate can reach when rem query values are left unread. */
static size_t upper_bound(const cand *c, size_t rem) {
    size_t room = c->size >= c->count ? c->size - c->count : 0;
    return c->count + (rem < room ? rem : room);
}

/* Asks for c's size the first time it matters. Most candidates never need it, and in the
 * SQL layer every ask is a B-tree lookup, as costly as reading a posting. */
static int cand_size(const silt_colset_source *src, cand *c) {
    if (c->sized) return 0;
    c->sized = 1;
    return src->size ? src->size(src->ctx, c->id, &c->size) : 0;
}

/* Computes c's exact overlap and offers it to the heap. */
static int verify(const silt_colset_source *src, const int64_t *q, size_t nq, cand *c,
                  hit_heap *hp, silt_colset_stats *st) {
    size_t ov = 0;
    int rc = src->overlap(src->ctx, c->id, c->size, q, nq, &ov);
    if (rc) return rc;
    c->verified = 1;
    st->verified++;
    return heap_offer(hp, c->id, ov);
}

/* Gathers the unverified candidates into ps, keyed by their partial count, or (by_bound) by
 * their upper bound with rem query values unread; sorted by cmp_pick. Returns how many. */
static size_t gather(const cand *cands, size_t n, pick *ps, size_t rem, int by_bound) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (cands[i].verified) continue;
        ps[m++] = (pick){by_bound ? upper_bound(&cands[i], rem) : cands[i].count, cands[i].size, i,
                         cands[i].id};
    }
    if (m > 1) qsort(ps, m, sizeof *ps, cmp_pick); /* qsort's pointer must not be NULL, even for 0 */
    return m;
}

int silt_colset_topk(const silt_colset_source *src, const int64_t *q, size_t nq, size_t k,
                     int64_t exclude, silt_colset_hit **hits, size_t *n_hits,
                     silt_colset_stats *stats) {
    silt_colset_stats st = {0, 0, 0, 0};
    *hits = NULL;
    *n_hits = 0;
    if (k == 0 || nq == 0) {
        if (stats) *stats = st;
        return 0;
    }
    int rc = 0;
    qvalue *order = malloc(nq * sizeof *order);
    cand *cands = NULL;
    pick *ps = NULL;
    size_t n_cands = 0, cap_cands = 0, cap_ps = 0;
    int64_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0;
    silt_rowid_map where = {0}; /* column id -> index in cands */
    hit_heap hp = {NULL, 0, 0, k};
    if (!order) {
        rc = SILT_COLSET_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < nq; i++) {
        order[i].h = q[i];
        if ((rc = src->list_len(src->ctx, q[i], &order[i].len))) goto done;
    }
    qsort(order, nq, sizeof *order, cmp_qvalue);

    /* Verification is paid from a budget: the postings read so far plus the next list (the
     * work that happens anyway unless the filter stops), so it at most doubles the work.
     * It runs in passes at each doubling of that work, so that the candidates are sorted
     * only a logarithmic number of times. */
    size_t spent = 0, next_pass = 1, p = 0;
    for (; p < nq; p++) {
        /* Prefix filter: an unseen column shares at most nq - p values with q. A tie with
         * the k-th could still win on its id, so stop only when it cannot reach it. */
        if (hp.n == k && nq - p < hp.h[0].overlap) break;
        n_ids = 0;
        if ((rc = src->list(src->ctx, order[p].h, &ids, &n_ids, &cap_ids))) goto done;
        st.lists_read++;
        st.postings_read += n_ids;
        for (size_t j = 0; j < n_ids; j++) {
            if (ids[j] == exclude) continue;
            int64_t at;
            if (silt_rowid_map_get(&where, ids[j], &at)) {
                cands[at].count++;
                continue;
            }
            if (n_cands == cap_cands) {
                size_t cap = cap_cands ? cap_cands * 2 : 64;
                cand *g = realloc(cands, cap * sizeof *g);
                if (!g) {
                    rc = SILT_COLSET_NOMEM;
                    goto done;
                }
                cands = g;
                cap_cands = cap;
            }
            cand *c = &cands[n_cands];
            *c = (cand){ids[j], 1, SIZE_MAX, 0, 0};
            if (silt_rowid_map_put(&where, ids[j], (int64_t)n_cands)) {
                rc = SILT_COLSET_NOMEM;
                goto done;
            }
            n_cands++;
        }
        size_t rem = nq - p - 1;
        if (rem == 0 || n_cands == 0) continue;
        size_t work = st.postings_read + order[p + 1].len;
        if (work < next_pass) continue;
        next_pass = work * 2;
        if (cap_ps < n_cands) {
            pick *g = realloc(ps, cap_cands * sizeof *g);
            if (!g) {
                rc = SILT_COLSET_NOMEM;
                goto done;
            }
            ps = g;
            cap_ps = cap_cands;
        }
        /* Most-seen candidates first: the likeliest to lift the k-th best overlap. Only the
         * first 2k + 16 are considered, so a pass costs few size lookups. */
        size_t m = gather(cands, n_cands, ps, rem, 0);
        size_t look = k < (SIZE_MAX - 16) / 2 ? 2 * k + 16 : SIZE_MAX;
        for (size_t i = 0; i < m && i < look && spent < work; i++) {
            cand *c = &cands[ps[i].idx];
            if (!heap_admits(&hp, upper_bound(c, rem), c->id)) continue;
            if ((rc = cand_size(src, c))) goto done;
            size_t cost = c->size != SIZE_MAX ? c->size : nq;
            if (spent + cost > work) continue;
            if (!heap_admits(&hp, upper_bound(c, rem), c->id)) continue;
            spent += cost;
            if ((rc = verify(src, q, nq, c, &hp, &st))) goto done;
        }
    }

    size_t rem = nq - p;
    if (rem == 0) {
        /* Every list was read: the counts are the exact overlaps. */
        for (size_t i = 0; i < n_cands; i++)
            if (!cands[i].verified && (rc = heap_offer(&hp, cands[i].id, cands[i].count))) goto done;
    } else if (n_cands) {
        if (cap_ps < n_cands) {
            pick *g = realloc(ps, n_cands * sizeof *g);
            if (!g) {
                rc = SILT_COLSET_NOMEM;
                goto done;
            }
            ps = g;
        }
        /* Best bound first: once a bound falls below the k-th overlap, so do all after it. */
        size_t m = gather(cands, n_cands, ps, rem, 1);
        for (size_t i = 0; i < m; i++) {
            cand *c = &cands[ps[i].idx];
            if (!heap_admits(&hp, ps[i].key, c->id)) {
                if (hp.n == k && ps[i].key < hp.h[0].overlap) break;
                continue;
            }
            /* The key was a bound without the size (if not asked yet); tighten it first. */
            if ((rc = cand_size(src, c))) goto done;
            if (!heap_admits(&hp, upper_bound(c, rem), c->id)) continue;
            if ((rc = verify(src, q, nq, c, &hp, &st))) goto done;
        }
    }
    if (hp.n > 1) qsort(hp.h, hp.n, sizeof *hp.h, cmp_hit);
    *hits = hp.h;
    *n_hits = hp.n;
    hp.h = NULL;
done:
    st.candidates = n_cands;
    if (stats) *stats = st;
    free(hp.h);
    free(order);
    free(cands);
    free(ps);
    free(ids);
    silt_rowid_map_free(&where);
    return rc;
}
