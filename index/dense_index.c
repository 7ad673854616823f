/* dense_index.c: FAISS index keyed by rowids, with tombstones, batched adds, training on
 * demand and filtered search (see dense_index.h for the design). */
#include "index/dense_index.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "c_api/IndexFlat_c.h"
#include "c_api/IndexIVF_c.h"
#include "c_api/Index_c.h"
#include "c_api/error_c.h"
#include "c_api/index_factory_c.h"
#include "c_api/index_io_c.h"
#include "core/err.h"
#include "index/faiss_bridge.h"
#include "index/faiss_factory.h"
#include "index/rowid_map.h"

/* Buffered adds are handed to FAISS once they hold this many bytes (bounds the memory a
 * bulk insert keeps outside FAISS, and gives HNSW batches worth threading). */
#define PENDING_MAX_BYTES (32u << 20)
/* A flat index (or the flat stand-in) gains nothing from large batches: its add is a copy.
 * A small buffer keeps the vectors in cache between the two copies and spares touching
 * 32 MB of fresh pages, which costs more than the copying on a VM. */
#define PENDING_MAX_BYTES_FLAT (1u << 20)
/* A filtered query with at most this many candidates is answered exhaustively: scoring a
 * few thousand vectors is cheaper and more accurate than a graph walk that skips most of
 * the nodes it visits. */
#define EXACT_MAX_CANDIDATES 4096
/* Batches smaller than this are added on one thread (a thread team costs more). */
#define THREADED_ADD_MIN 256

struct silt_dense_index {
    int dim;                /* floats per vector */
    silt_metric metric;     /* as declared; cosine is inner product on normalised vectors */
    char *factory;          /* FAISS index_factory description (malloc'd) */
    FaissIndex *faiss;      /* the requested index, or an exact flat stand-in until trained */
    int standin;            /* 1 while faiss is the flat stand-in */
    int64_t train_min;      /* vectors needed to train the requested index (0: none) */
    silt_faiss_kind kind;   /* kind of faiss (the stand-in is FLAT) */
    int default_ef_search;  /* HNSW efSearch when a query gives none */
    int default_nprobe;     /* IVF nprobe when a query gives none */
    int64_t n_faiss;        /* vectors FAISS holds: slots [0, n_faiss) */
    int64_t n_slots;        /* n_faiss + buffered adds */
    int64_t n_live;         /* slots whose bit is set in live */
    int64_t *slot_rowid;    /* rowid of each slot, slot_cap entries */
    uint8_t *live;          /* bit per slot, slot_cap / 8 bytes */
    size_t slot_cap;        /* allocated slots, multiple of 64 */
    silt_rowid_map map;     /* rowid -> slot, live rows only */
    float *pending;         /* buffered adds: (n_slots - n_faiss) * dim floats, normalised */
    size_t pending_cap;     /* vectors pending can hold */
    int build_threads;      /* OpenMP threads for batched adds and training */
    int ef_construction;    /* HNSW efConstruction for every graph this index builds */
};

static int bit_get(const uint8_t *b, int64_t i) { return (b[i >> 3] >> (i & 7)) & 1; }
static void bit_set(uint8_t *b, int64_t i) { b[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static void bit_clear(uint8_t *b, int64_t i) { b[i >> 3] &= (uint8_t)~(1u << (i & 7)); }

static int64_t popcount_bytes(const uint8_t *b, size_t n_bytes) {
    int64_t c = 0;
    size_t i = 0;
    for (; i + 8 <= n_bytes; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        c += __builtin_popcountll(w);
    }
    for (; i < n_bytes; i++) c += __builtin_popcount(b[i]);
    return c;
}

int silt_metric_parse(const char *name, silt_metric *out) {
    if (!strcasecmp(name, "l2")) *out = SILT_METRIC_L2;
    else if (!strcasecmp(name, "cosine")) *out = SILT_METRIC_COSINE;
    else if (!strcasecmp(name, "ip")) *out = SILT_METRIC_IP;
    else return -1;
    return 0;
}

const char *silt_metric_name(silt_metric m) {
    return m == SILT_METRIC_L2 ? "l2" : m == SILT_METRIC_COSINE ? "cosine" : "ip";
}

static FaissMetricType faiss_metric(silt_metric m) {
    return m == SILT_METRIC_L2 ? METRIC_L2 : METRIC_INNER_PRODUCT;
}

/* Message of the last failed C API call, as a malloc'd error prefixed by what. */
static int faiss_fail(char **err, const char *what) {
    const char *m = faiss_get_last_error();
    const char *at = m ? strstr(m, " at ") : NULL;
    if (m && !strncmp(m, "Error in ", 9) && at && strstr(at, ": ")) m = strstr(at, ": ") + 2;
    return silt_err(err, "%s: %s", what, m && *m ? m : "unknown FAISS error");
}

/* Builds the requested index (untrained) into *out, its HNSW graphs (if any) set to build
 * with ix->ef_construction. */
static int make_faiss(const silt_dense_index *ix, FaissIndex **out, char **err) {
    *out = NULL;
    /* FAISS crashes or hangs on some descriptions ("PQ0", "HNSW1"): only known-good ones. */
    if (silt_faiss_factory_check(ix->factory, ix->dim, err))
        return silt_err_prefix(err, "index '%s' for dim %d", ix->factory, ix->dim);
    if (faiss_index_factory(out, ix->dim, ix->factory, faiss_metric(ix->metric))) {
        faiss_fail(err, "FAISS cannot build it");
        return silt_err_prefix(err, "index '%s' for dim %d", ix->factory, ix->dim);
    }
    silt_faiss_set_ef_construction(*out, ix->ef_construction);
    return 0;
}

/* Sets kind and default search effort for the current FAISS index. */
static void describe(silt_dense_index *ix) {
    ix->kind = silt_faiss_kind_of(ix->faiss);
    ix->default_ef_search = ix->kind == SILT_FAISS_HNSW ? 64 : 0;
    ix->default_nprobe = 0;
    FaissIndexIVF *ivf = faiss_IndexIVF_cast(ix->faiss);
    if (ivf) {
        size_t nlist = faiss_IndexIVF_nlist(ivf);
        /* FAISS's own default (1 list) misses too much; 1/16 of the lists, at least 8,
         * keeps recall high at a fraction of a full scan. */
        size_t np = nlist / 16 < 8 ? 8 : nlist / 16;
        ix->default_nprobe = (int)(np > nlist ? nlist : np);
    }
}

static int make_standin(silt_dense_index *ix, char **err) {
    FaissIndexFlat *flat = NULL;
    if (faiss_IndexFlat_new_with(&flat, ix->dim, faiss_metric(ix->metric)))
        return faiss_fail(err, "cannot create a flat index");
    ix->faiss = (FaissIndex *)flat;
    ix->standin = 1;
    return 0;
}

/* Installs a fresh FAISS index for the table's description: the requested index when it
 * needs no training, else a flat stand-in. */
static int install_fresh(silt_dense_index *ix, char **err) {
    FaissIndex *real = NULL;
    if (make_faiss(ix, &real, err)) return -1;
    ix->standin = 0;
    ix->train_min = 0;
    if (!faiss_Index_is_trained(real)) {
        ix->train_min = silt_faiss_train_min(real);
        faiss_Index_free(real);
        if (make_standin(ix, err)) return -1;
    } else {
        ix->faiss = real;
    }
    describe(ix);
    return 0;
}

silt_dense_index *silt_dense_index_new(int dim, silt_metric metric, const char *factory,
                                       char **err) {
    if (dim <= 0) {
        silt_err(err, "dim must be a positive integer, got %d", dim);
        return NULL;
    }
    if (!factory || !*factory) factory = "Flat";
    if (strstr(factory, "IDMap")) {
        silt_err(err, "index '%s': leave IDMap out, rows are mapped to rowids already", factory);
        return NULL;
    }
    silt_dense_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->factory = strdup(factory))) {
        free(ix);
        silt_err(err, "out of memory");
        return NULL;
    }
    ix->dim = dim;
    ix->metric = metric;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ix->build_threads = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
    ix->ef_construction = SILT_DENSE_EF_CONSTRUCTION_DEFAULT;
    if (install_fresh(ix, err)) {
        silt_dense_index_free(ix);
        return NULL;
    }
    return ix;
}

void silt_dense_index_free(silt_dense_index *ix) {
    if (!ix) return;
    if (ix->faiss) faiss_Index_free(ix->faiss);
    free(ix->factory);
    free(ix->slot_rowid);
    free(ix->live);
    free(ix->pending);
    silt_rowid_map_free(&ix->map);
    free(ix);
}

int silt_dense_index_dim(const silt_dense_index *ix) { return ix->dim; }
int64_t silt_dense_index_count(const silt_dense_index *ix) { return ix->n_live; }
int64_t silt_dense_index_dead(const silt_dense_index *ix) { return ix->n_slots - ix->n_live; }
int silt_dense_index_contains(const silt_dense_index *ix, int64_t rowid) {
    return silt_rowid_map_get(&ix->map, rowid, NULL);
}
int silt_dense_index_is_trained(const silt_dense_index *ix) { return !ix->standin; }
int64_t silt_dense_index_train_min(const silt_dense_index *ix) { return ix->train_min; }
int silt_dense_index_exact_storage(const silt_dense_index *ix) {
    return ix->standin || silt_faiss_exact_storage(ix->faiss);
}
int silt_dense_index_wants_snapshot(const silt_dense_index *ix) {
    return !ix->standin && ix->kind != SILT_FAISS_FLAT;
}
int silt_dense_index_has_hnsw(const silt_dense_index *ix) {
    /* The factory grammar is an allowlist (faiss_factory.h): "HNSW" occurs in it only as
     * an HNSW graph, bare or as an IVF quantizer. */
    return strstr(ix->factory, "HNSW") != NULL;
}
int silt_dense_index_ef_construction(const silt_dense_index *ix) { return ix->ef_construction; }
void silt_dense_index_set_ef_construction(silt_dense_index *ix, int ef_construction) {
    ix->ef_construction = ef_construction;
    /* The current graph (fresh, or read from a snapshot) builds its future nodes with it;
     * the stand-in of an untrained index has none, and make_faiss applies it later. */
    silt_faiss_set_ef_construction(ix->faiss, ef_construction);
}
void silt_dense_index_set_build_threads(silt_dense_index *ix, int n_threads) {
    ix->build_threads = n_threads < 1 ? 1 : n_threads;
}

/* Grows the slot arrays to hold n slots. */
static int reserve_slots(silt_dense_index *ix, size_t n, char **err) {
    if (n <= ix->slot_cap) return 0;
    size_t cap = ix->slot_cap ? ix->slot_cap : 1024;
    while (cap < n) cap *= 2;
    int64_t *rows = realloc(ix->slot_rowid, cap * sizeof *rows);
    if (!rows) return silt_err(err, "out of memory");
    ix->slot_rowid = rows;
    uint8_t *live = realloc(ix->live, cap / 8);
    if (!live) return silt_err(err, "out of memory");
    memset(live + ix->slot_cap / 8, 0, (cap - ix->slot_cap) / 8);
    ix->live = live;
    ix->slot_cap = cap;
    return 0;
}

/* Copies v into dst, normalised when the metric is cosine. */
static int prepare_vector(const silt_dense_index *ix, const float *v, float *dst, const char *what,
                          char **err) {
    if (ix->metric != SILT_METRIC_COSINE) {
        memcpy(dst, v, sizeof(float) * (size_t)ix->dim);
        return 0;
    }
    double nn = 0;
    for (int i = 0; i < ix->dim; i++) nn += (double)v[i] * v[i];
    if (!(nn > 0) || !isfinite(nn))
        return silt_err(err, "%s is a zero vector: cosine distance is undefined for it", what);
    double inv = 1.0 / sqrt(nn);
    for (int i = 0; i < ix->dim; i++) dst[i] = (float)(v[i] * inv);
    return 0;
}

int silt_dense_index_remove(silt_dense_index *ix, int64_t rowid) {
    int64_t slot;
    if (!silt_rowid_map_get(&ix->map, rowid, &slot)) return 0;
    silt_rowid_map_del(&ix->map, rowid);
    bit_clear(ix->live, slot);
    ix->n_live--;
    return 1;
}

int silt_dense_index_add(silt_dense_index *ix, int64_t rowid, const float *v, char **err) {
    int64_t n_pending = ix->n_slots - ix->n_faiss;
    size_t dim = (size_t)ix->dim;
    if ((size_t)n_pending == ix->pending_cap) {
        size_t cap = ix->pending_cap ? ix->pending_cap * 2 : 64;
        float *p = realloc(ix->pending, cap * dim * sizeof(float));
        if (!p) return silt_err(err, "out of memory");
        ix->pending = p;
        ix->pending_cap = cap;
    }
    float *dst = ix->pending + (size_t)n_pending * dim;
    if (prepare_vector(ix, v, dst, "vector", err)) return -1;
    /* Reserve everything first so that nothing below can fail half-way. */
    if (reserve_slots(ix, (size_t)ix->n_slots + 1, err)) return -1;
    if (silt_rowid_map_reserve(&ix->map, ix->map.count + 1)) return silt_err(err, "out of memory");
    silt_dense_index_remove(ix, rowid);
    int64_t slot = ix->n_slots++;
    ix->slot_rowid[slot] = rowid;
    bit_set(ix->live, slot);
    silt_rowid_map_put(&ix->map, rowid, slot);
    ix->n_live++;
    size_t limit = ix->kind == SILT_FAISS_FLAT ? PENDING_MAX_BYTES_FLAT : PENDING_MAX_BYTES;
    if ((size_t)(ix->n_slots - ix->n_faiss) * dim * sizeof(float) >= limit)
        return silt_dense_index_flush(ix, err);
    return 0;
}

/* Switches from the flat stand-in to the requested index: trains it on every live vector,
 * adds them, and renumbers the slots densely (dead slots disappear). */
static int train_and_swap(silt_dense_index *ix, char **err) {
    size_t dim = (size_t)ix->dim, n = (size_t)ix->n_live;
    float *xb = NULL;
    size_t xb_n = 0;
    faiss_IndexFlat_xb(faiss_IndexFlat_cast(ix->faiss), &xb, &xb_n);
    float *vecs = malloc(n * dim * sizeof(float) + 1);
    int64_t *rows = malloc(n * sizeof(int64_t) + 1);
    FaissIndex *real = NULL;
    if (!vecs || !rows) {
        free(vecs), free(rows);
        return silt_err(err, "out of memory");
    }
    size_t j = 0;
    for (int64_t s = 0; s < ix->n_faiss; s++) {
        if (!bit_get(ix->live, s)) continue;
        memcpy(vecs + j * dim, xb + (size_t)s * dim, dim * sizeof(float));
        rows[j++] = ix->slot_rowid[s];
    }
    int rc = make_faiss(ix, &real, err);
    if (!rc) rc = silt_faiss_train(real, (int64_t)n, vecs, ix->build_threads, err);
    if (!rc) rc = silt_faiss_add(real, (int64_t)n, vecs, ix->build_threads, err);
    free(vecs);
    if (rc) {
        if (real) faiss_Index_free(real);
        free(rows);
        return silt_err_prefix(err, "training index '%s' on %zu vectors", ix->factory, n);
    }
    faiss_Index_free(ix->faiss);
    ix->faiss = real;
    ix->standin = 0;
    describe(ix);
    memset(ix->live, 0, ix->slot_cap / 8);
    silt_rowid_map_clear(&ix->map);
    for (size_t i = 0; i < n; i++) {
        ix->slot_rowid[i] = rows[i];
        bit_set(ix->live, (int64_t)i);
        silt_rowid_map_put(&ix->map, rows[i], (int64_t)i); /* cannot fail: capacity kept */
    }
    free(rows);
    ix->n_faiss = ix->n_slots = (int64_t)n;
    return 0;
}

int silt_dense_index_flush(silt_dense_index *ix, char **err) {
    size_t dim = (size_t)ix->dim;
    int64_t base = ix->n_faiss, n_pending = ix->n_slots - base;
    if (n_pending > 0) {
        /* Drop buffered rows deleted since they were added; renumber the rest. */
        int64_t kept = 0;
        for (int64_t i = 0; i < n_pending; i++) {
            int64_t s = base + i;
            if (!bit_get(ix->live, s)) continue;
            if (kept != i) {
                int64_t d = base + kept;
                memcpy(ix->pending + (size_t)kept * dim, ix->pending + (size_t)i * dim,
                       dim * sizeof(float));
                ix->slot_rowid[d] = ix->slot_rowid[s];
                bit_clear(ix->live, s);
                bit_set(ix->live, d);
                silt_rowid_map_put(&ix->map, ix->slot_rowid[d], d); /* overwrite: no alloc */
            }
            kept++;
        }
        ix->n_slots = base + kept;
        if (kept > 0) {
            int threads = kept >= THREADED_ADD_MIN ? ix->build_threads : 1;
            if (silt_faiss_add(ix->faiss, kept, ix->pending, threads, err)) {
                int64_t now = faiss_Index_ntotal(ix->faiss);
                if (now != base) {
                    /* FAISS kept part of the batch: the slot numbering no longer matches.
                     * Start over empty; the owner rebuilds from its stored vectors. */
                    silt_dense_index_clear(ix, 0, NULL);
                    return silt_err_prefix(err, "adding %lld vectors (index reset)",
                                           (long long)kept);
                }
                return silt_err_prefix(err, "adding %lld vectors", (long long)kept);
            }
            ix->n_faiss = base + kept;
        }
        /* The buffer is kept for the next batch: on a VM, touching 32 MB of fresh pages
         * again per batch costs more than the copying. */
    }
    if (ix->standin && ix->n_live >= ix->train_min && ix->n_live > 0)
        return train_and_swap(ix, err);
    return 0;
}

int silt_dense_index_clear(silt_dense_index *ix, int keep_training, char **err) {
    if (keep_training || ix->standin) {
        if (faiss_Index_reset(ix->faiss)) return faiss_fail(err, "cannot reset the index");
    } else {
        FaissIndex *old = ix->faiss;
        ix->faiss = NULL;
        if (install_fresh(ix, err)) {
            ix->faiss = old;
            return -1;
        }
        faiss_Index_free(old);
    }
    ix->n_faiss = ix->n_slots = ix->n_live = 0;
    if (ix->live) memset(ix->live, 0, ix->slot_cap / 8);
    silt_rowid_map_clear(&ix->map);
    return 0;
}

void silt_dense_hits_free(silt_dense_hits *h) {
    free(h->rowids);
    free(h->distances);
    memset(h, 0, sizeof *h);
}

static double user_distance(silt_metric m, float d) {
    if (m == SILT_METRIC_L2) return d > 0 ? sqrt((double)d) : 0.0;
    if (m == SILT_METRIC_COSINE) return 1.0 - (double)d;
    return -(double)d;
}

/* Candidate bitmap for a filtered query (live rows that pass the filters), malloc'd;
 * *n_cand gets its population. */
static uint8_t *filter_bitmap(const silt_dense_index *ix, const silt_dense_query *opt,
                              int64_t *n_cand, char **err) {
    size_t n_bytes = ((size_t)ix->n_slots + 7) / 8;
    uint8_t *b = calloc(n_bytes + 1, 1);
    if (!b) {
        silt_err(err, "out of memory");
        return NULL;
    }
    if (opt->rowids) {
        for (size_t i = 0; i < opt->n_rowids; i++) {
            int64_t r = opt->rowids[i], slot;
            if (opt->has_range && (r < opt->rowid_min || r > opt->rowid_max)) continue;
            if (silt_rowid_map_get(&ix->map, r, &slot)) bit_set(b, slot);
        }
    } else {
        for (int64_t s = 0; s < ix->n_slots; s++) {
            int64_t r = ix->slot_rowid[s];
            if (bit_get(ix->live, s) && r >= opt->rowid_min && r <= opt->rowid_max) bit_set(b, s);
        }
    }
    *n_cand = popcount_bytes(b, n_bytes);
    return b;
}

int silt_dense_index_search(silt_dense_index *ix, const float *q, const silt_dense_query *opt,
                            silt_dense_hits *out, char **err) {
    memset(out, 0, sizeof *out);
    float *qn = malloc(sizeof(float) * (size_t)ix->dim);
    if (!qn) return silt_err(err, "out of memory");
    if (prepare_vector(ix, q, qn, "query vector", err) || silt_dense_index_flush(ix, err)) {
        free(qn);
        return -1;
    }
    if (opt->k <= 0 || ix->n_live == 0) {
        free(qn);
        return 0;
    }
    int filtered = opt->rowids != NULL || opt->has_range;
    uint8_t *owned_bitmap = NULL;
    const uint8_t *bitmap = NULL;
    int64_t n_cand = ix->n_live;
    if (filtered) {
        owned_bitmap = filter_bitmap(ix, opt, &n_cand, err);
        if (!owned_bitmap) {
            free(qn);
            return -1;
        }
        bitmap = owned_bitmap;
    } else if (ix->n_live < ix->n_faiss) {
        bitmap = ix->live;
    }
    int64_t k = opt->k < n_cand ? opt->k : n_cand;
    int rc = 0;
    float *D = NULL;
    int64_t *I = NULL;
    if (k == 0) goto done;

    silt_faiss_search_params p = {
        .ef_search = opt->ef_search > 0 ? opt->ef_search : ix->default_ef_search,
        .nprobe = opt->nprobe > 0 ? opt->nprobe : ix->default_nprobe,
        .bitmap = bitmap,
        .bitmap_bytes = ((size_t)ix->n_faiss + 7) / 8,
        .exhaustive = filtered && n_cand <= EXACT_MAX_CANDIDATES,
        /* One thread, except for scans of a large flat index: one core cannot read
         * 150 MB as fast as two (faiss_ext splits the scan; graph walks stay single). */
        .n_threads = ix->kind == SILT_FAISS_FLAT ? ix->build_threads : 1,
    };
    D = malloc(sizeof(float) * (size_t)k);
    I = malloc(sizeof(int64_t) * (size_t)k);
    if (!D || !I) {
        rc = silt_err(err, "out of memory");
        goto done;
    }
    rc = silt_faiss_search(ix->faiss, 1, qn, k, &p, D, I, err);
    int64_t got = 0;
    if (rc == 0) {
        while (got < k && I[got] >= 0) got++;
        if (got < k && !p.exhaustive && ix->kind != SILT_FAISS_FLAT) {
            /* The approximate walk found fewer rows than match: redo it exhaustively. */
            p.exhaustive = 1;
            rc = silt_faiss_search(ix->faiss, 1, qn, k, &p, D, I, err);
            got = 0;
            if (rc == 0)
                while (got < k && I[got] >= 0) got++;
        }
    }
    if (rc == SILT_FAISS_NO_SELECTOR) {
        /* This index cannot skip ids: ask for enough extra rows to cover every excluded
         * one, then filter here. */
        int64_t k2 = k + (ix->n_faiss - n_cand);
        if (k2 > ix->n_faiss) k2 = ix->n_faiss;
        float *D2 = malloc(sizeof(float) * (size_t)k2);
        int64_t *I2 = malloc(sizeof(int64_t) * (size_t)k2);
        if (!D2 || !I2) {
            free(D2), free(I2);
            rc = silt_err(err, "out of memory");
            goto done;
        }
        p.bitmap = NULL;
        p.exhaustive = 0;
        rc = silt_faiss_search(ix->faiss, 1, qn, k2, &p, D2, I2, err);
        got = 0;
        for (int64_t i = 0; rc == 0 && i < k2 && got < k; i++) {
            if (I2[i] < 0) break;
            if (bitmap && !bit_get(bitmap, I2[i])) continue;
            D[got] = D2[i];
            I[got++] = I2[i];
        }
        free(D2), free(I2);
    }
    if (rc != 0) {
        rc = silt_err_prefix(err, "search");
        goto done;
    }
    out->rowids = malloc(sizeof(int64_t) * (size_t)(got ? got : 1));
    out->distances = malloc(sizeof(double) * (size_t)(got ? got : 1));
    if (!out->rowids || !out->distances) {
        silt_dense_hits_free(out);
        rc = silt_err(err, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < got; i++) {
        out->rowids[i] = ix->slot_rowid[I[i]];
        out->distances[i] = user_distance(ix->metric, D[i]);
    }
    out->n = got;
done:
    free(D), free(I), free(qn), free(owned_bitmap);
    return rc;
}

int silt_dense_index_get_vector(silt_dense_index *ix, int64_t rowid, float *out, char **err) {
    int64_t slot;
    if (!silt_rowid_map_get(&ix->map, rowid, &slot)) return 0;
    size_t dim = (size_t)ix->dim;
    if (slot >= ix->n_faiss) {
        memcpy(out, ix->pending + (size_t)(slot - ix->n_faiss) * dim, dim * sizeof(float));
        return 1;
    }
    if (!silt_dense_index_exact_storage(ix))
        return silt_err(err, "index '%s' does not store vectors exactly", ix->factory);
    if (silt_faiss_reconstruct(ix->faiss, slot, out, err)) return -1;
    return 1;
}

int silt_dense_index_each(const silt_dense_index *ix, int (*fn)(void *ctx, int64_t rowid),
                          void *ctx) {
    for (int64_t s = 0; s < ix->n_slots; s++) {
        if (!bit_get(ix->live, s)) continue;
        int rc = fn(ctx, ix->slot_rowid[s]);
        if (rc) return rc;
    }
    return 0;
}

/* ---- serialisation ---------------------------------------------------------------------
 * "SILTDIX1", then u32 version, i32 dim, i32 metric, u32 flags (bit 0: stand-in),
 * i64 train_min, i64 n_slots, i64 n_live, u32 factory length + bytes, i64 rowid per slot,
 * the live bitmap ((n_slots + 7) / 8 bytes), then FAISS's own serialisation to the end. */
#define DIX_MAGIC "SILTDIX1"
/* Version 2 ends with a CRC-32 of everything before it: FAISS's reader leaks what it has
 * allocated when it throws on damaged bytes, so damage must be caught before FAISS sees it. */
#define DIX_VERSION 2u

static uint32_t crc_of(const void *p, size_t n) {
    const Bytef *b = p;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* crc32() takes a uInt length */
        uInt step = n < (1u << 30) ? (uInt)n : (1u << 30);
        crc = crc32(crc, b, step);
        b += step;
        n -= step;
    }
    return (uint32_t)crc;
}

int silt_dense_index_serialize(silt_dense_index *ix, void **buf, size_t *n_bytes, char **err) {
    *buf = NULL;
    *n_bytes = 0;
    if (silt_dense_index_flush(ix, err)) return -1;
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    if (!f) return silt_err(err, "out of memory");
    uint32_t version = DIX_VERSION, flags = ix->standin ? 1u : 0u;
    int32_t dim = ix->dim, metric = (int32_t)ix->metric;
    uint32_t flen = (uint32_t)strlen(ix->factory);
    int ok = fwrite(DIX_MAGIC, 8, 1, f) == 1 && fwrite(&version, 4, 1, f) == 1 &&
             fwrite(&dim, 4, 1, f) == 1 && fwrite(&metric, 4, 1, f) == 1 &&
             fwrite(&flags, 4, 1, f) == 1 && fwrite(&ix->train_min, 8, 1, f) == 1 &&
             fwrite(&ix->n_slots, 8, 1, f) == 1 && fwrite(&ix->n_live, 8, 1, f) == 1 &&
             fwrite(&flen, 4, 1, f) == 1 && fwrite(ix->factory, 1, flen, f) == flen;
    if (ok && ix->n_slots > 0)
        ok = fwrite(ix->slot_rowid, 8, (size_t)ix->n_slots, f) == (size_t)ix->n_slots &&
             fwrite(ix->live, 1, ((size_t)ix->n_slots + 7) / 8, f) == ((size_t)ix->n_slots + 7) / 8;
    int rc = 0;
    if (!ok) rc = silt_err(err, "out of memory");
    else if (faiss_write_index(ix->faiss, f)) rc = faiss_fail(err, "cannot serialise the index");
    if (fclose(f) && !rc) rc = silt_err(err, "out of memory");
    if (rc) {
        free(mem);
        return -1;
    }
    uint32_t crc = crc_of(mem, len);
    char *grown = realloc(mem, len + 4);
    if (!grown) {
        free(mem);
        return silt_err(err, "out of memory");
    }
    memcpy(grown + len, &crc, 4);
    *buf = grown;
    *n_bytes = len + 4;
    return 0;
}

/* Reads n bytes at *pos from buf into dst; 0 when there were enough bytes. */
static int take(const uint8_t *buf, size_t n_bytes, size_t *pos, void *dst, size_t n) {
    if (n > n_bytes - *pos) return -1;
    memcpy(dst, buf + *pos, n);
    *pos += n;
    return 0;
}

silt_dense_index *silt_dense_index_deserialize(const void *buf, size_t n_bytes, int dim,
                                               silt_metric metric, const char *factory,
                                               char **err) {
    const uint8_t *b = buf;
    size_t pos = 0;
    char magic[8];
    uint32_t want_crc;
    if (n_bytes < 12 || memcmp(b, DIX_MAGIC, 8)) {
        silt_err(err, "snapshot header is truncated or not a silt_dense snapshot");
        return NULL;
    }
    n_bytes -= 4;
    memcpy(&want_crc, b + n_bytes, 4);
    if (crc_of(b, n_bytes) != want_crc) {
        silt_err(err, "snapshot checksum does not match: the snapshot is damaged or truncated");
        return NULL;
    }
    uint32_t version, flags, flen;
    int32_t sdim, smetric;
    int64_t train_min, n_slots, n_live;
    if (take(b, n_bytes, &pos, magic, 8) || memcmp(magic, DIX_MAGIC, 8) ||
        take(b, n_bytes, &pos, &version, 4) || version != DIX_VERSION ||
        take(b, n_bytes, &pos, &sdim, 4) || take(b, n_bytes, &pos, &smetric, 4) ||
        take(b, n_bytes, &pos, &flags, 4) || take(b, n_bytes, &pos, &train_min, 8) ||
        take(b, n_bytes, &pos, &n_slots, 8) || take(b, n_bytes, &pos, &n_live, 8) ||
        take(b, n_bytes, &pos, &flen, 4)) {
        silt_err(err, "snapshot header is truncated or not a silt_dense snapshot");
        return NULL;
    }
    if (!factory || !*factory) factory = "Flat";
    if (sdim != dim || smetric != (int32_t)metric || flen != strlen(factory) ||
        flen > n_bytes - pos || memcmp(b + pos, factory, flen)) {
        silt_err(err, "snapshot was made for another dim, metric or index");
        return NULL;
    }
    pos += flen;
    if (n_slots < 0 || n_live < 0 || n_live > n_slots ||
        (uint64_t)n_slots > (n_bytes - pos) / 8) {
        silt_err(err, "snapshot slot table is truncated");
        return NULL;
    }
    silt_dense_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->factory = strdup(factory))) {
        free(ix);
        silt_err(err, "out of memory");
        return NULL;
    }
    ix->dim = dim;
    ix->metric = metric;
    ix->train_min = train_min;
    ix->ef_construction = SILT_DENSE_EF_CONSTRUCTION_DEFAULT;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ix->build_threads = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
    size_t live_bytes = ((size_t)n_slots + 7) / 8;
    if (reserve_slots(ix, (size_t)n_slots, err) ||
        silt_rowid_map_reserve(&ix->map, (size_t)n_live)) {
        silt_err(err, "out of memory");
        goto fail;
    }
    if (n_slots > 0 && (take(b, n_bytes, &pos, ix->slot_rowid, (size_t)n_slots * 8) ||
                        take(b, n_bytes, &pos, ix->live, live_bytes))) {
        silt_err(err, "snapshot slot table is truncated");
        goto fail;
    }
    /* Bits past n_slots must be clear, and live slots must name distinct rowids. */
    if (n_slots % 8 && (ix->live[live_bytes - 1] >> (n_slots % 8))) {
        silt_err(err, "snapshot live bitmap is corrupt");
        goto fail;
    }
    for (int64_t s = 0; s < n_slots; s++) {
        if (!bit_get(ix->live, s)) continue;
        if (silt_rowid_map_get(&ix->map, ix->slot_rowid[s], NULL)) {
            silt_err(err, "snapshot lists rowid %lld twice", (long long)ix->slot_rowid[s]);
            goto fail;
        }
        silt_rowid_map_put(&ix->map, ix->slot_rowid[s], s);
        ix->n_live++;
    }
    if (ix->n_live != n_live) {
        silt_err(err, "snapshot live count does not match its bitmap");
        goto fail;
    }
    FILE *f = fmemopen((void *)(b + pos), n_bytes - pos, "rb");
    if (!f) {
        silt_err(err, "out of memory");
        goto fail;
    }
    int rc = faiss_read_index(f, 0, &ix->faiss);
    fclose(f);
    if (rc) {
        ix->faiss = NULL;
        faiss_fail(err, "snapshot FAISS data is unreadable");
        goto fail;
    }
    if (faiss_Index_d(ix->faiss) != dim || faiss_Index_ntotal(ix->faiss) != n_slots ||
        faiss_Index_metric_type(ix->faiss) != faiss_metric(metric)) {
        silt_err(err, "snapshot FAISS data does not match its slot table");
        goto fail;
    }
    silt_faiss_prefer_huge_pages(ix->faiss);
    ix->standin = (flags & 1u) != 0;
    ix->n_faiss = ix->n_slots = n_slots;
    /* The graph remembers the breadth it was built with; keep building with it unless the
     * owner says otherwise. */
    int ef = silt_faiss_get_ef_construction(ix->faiss);
    if (ef > 0) ix->ef_construction = ef;
    describe(ix);
    return ix;
fail:
    silt_dense_index_free(ix);
    return NULL;
}
