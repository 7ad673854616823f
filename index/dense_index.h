/* dense_index.h: an in-memory FAISS index keyed by 64-bit rowids, the derived state behind
 * the silt_dense virtual table.
 *
 *   silt_dense_index *ix = silt_dense_index_new(384, SILT_METRIC_COSINE, "HNSW32", &err);
 *   silt_dense_index_add(ix, 42, vec, &err);               // upsert
 *   silt_dense_query q = { .k = 10 };
 *   silt_dense_hits hits;
 *   silt_dense_index_search(ix, query_vec, &q, &hits, &err);
 *   silt_dense_index_free(ix);
 *
 * How it works, and what it costs:
 * - FAISS ids are "slots" 0..n-1 in the order vectors were added; a slot -> rowid array and
 *   a rowid -> slot hash map translate. Deleting a rowid (or replacing its vector) only
 *   clears its slot's bit in a live bitmap; searches then pass FAISS a bitmap selector.
 *   Dead slots stay in memory until the index is rebuilt (the owner's 'optimize').
 * - Adds are buffered and handed to FAISS in batches on several threads, at the latest
 *   before the next search; removing a buffered row costs nothing.
 * - Indexes that need training (IVF, PQ, ...) start as an exact flat index and switch to the
 *   requested index once enough vectors exist (silt_dense_index_train_min), so queries
 *   before that are answered exactly.
 * - Metrics: l2 reports the Euclidean distance (FAISS's squared value, square-rooted),
 *   cosine normalises vectors and reports 1 - cosine, ip reports minus the inner product.
 * - A single query runs on one thread; filtered queries whose candidate set is small, and
 *   approximate queries that return fewer hits than asked while enough rows match, are
 *   answered by an exhaustive pass, so a filtered query returns k rows whenever k match.
 *
 * Errors follow core/err.h: -1 (or NULL) with a malloc'd *err. */
#ifndef SILT_DENSE_INDEX_H
#define SILT_DENSE_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef enum { SILT_METRIC_L2 = 0, SILT_METRIC_COSINE = 1, SILT_METRIC_IP = 2 } silt_metric;

typedef struct silt_dense_index silt_dense_index;

/* HNSW graph-build breadth (FAISS's efConstruction) unless the owner sets another. FAISS's
 * own default, 40, left HNSW32 at recall@10 0.952 even at efSearch 256 on 100k x 384
 * Gaussian-mixture vectors: the graph, not the search, was the limit. */
#define SILT_DENSE_EF_CONSTRUCTION_DEFAULT 200
/* Accepted range: below 16 the graph is poor for any M silt allows; above 4096 the build
 * costs far more than it gains (and FAISS sizes per-thread heaps with it). */
#define SILT_DENSE_EF_CONSTRUCTION_MIN 16
#define SILT_DENSE_EF_CONSTRUCTION_MAX 4096

/* A search. Filters combine with AND; rowids that are not in the index are ignored. */
typedef struct {
    int64_t k;              /* neighbours wanted (any size; at most the matching rows come back) */
    int ef_search;          /* HNSW efSearch for this query; 0 = default */
    int nprobe;             /* IVF nprobe for this query; 0 = default */
    const int64_t *rowids;  /* when not NULL: only these n_rowids rowids may match */
    size_t n_rowids;
    int has_range;          /* when 1: only rowids in [rowid_min, rowid_max] may match */
    int64_t rowid_min, rowid_max;
} silt_dense_query;

/* Search results, nearest first; arrays malloc'd (silt_dense_hits_free). */
typedef struct {
    int64_t *rowids;
    double *distances;
    int64_t n;
} silt_dense_hits;

/* Parses "l2" | "cosine" | "ip" (case-insensitive). Returns 0 or -1. */
int silt_metric_parse(const char *name, silt_metric *out);
const char *silt_metric_name(silt_metric m);

/* Creates an empty index from a FAISS index_factory description; the description is
 * validated by building it (the error names the description). */
silt_dense_index *silt_dense_index_new(int dim, silt_metric metric, const char *factory,
                                       char **err);
void silt_dense_index_free(silt_dense_index *ix);

int silt_dense_index_dim(const silt_dense_index *ix);
/* Live rows (buffered adds included). */
int64_t silt_dense_index_count(const silt_dense_index *ix);
/* Slots that FAISS holds for deleted or replaced rows (reclaimed by a rebuild). */
int64_t silt_dense_index_dead(const silt_dense_index *ix);
int silt_dense_index_contains(const silt_dense_index *ix, int64_t rowid);
/* 1 once the requested index is in use (always 1 for indexes that need no training). */
int silt_dense_index_is_trained(const silt_dense_index *ix);
/* Vectors needed before the requested index is trained (0: no training). */
int64_t silt_dense_index_train_min(const silt_dense_index *ix);
/* 1 when stored vectors come back exactly (silt_dense_index_get_vector compares equal). */
int silt_dense_index_exact_storage(const silt_dense_index *ix);
/* 1 when the FAISS structure costs more to rebuild than to read back (graphs, trained
 * quantizers): the owner should persist snapshots. 0 for a flat index, which is rebuilt
 * from the stored vectors as fast as a snapshot is read. */
int silt_dense_index_wants_snapshot(const silt_dense_index *ix);

/* Adds or replaces rowid's vector (dim floats, finite). Cosine rejects a zero vector. */
int silt_dense_index_add(silt_dense_index *ix, int64_t rowid, const float *v, char **err);
/* Removes rowid; returns 1 if it was present, 0 if not. */
int silt_dense_index_remove(silt_dense_index *ix, int64_t rowid);
/* Hands buffered adds to FAISS and trains when due. */
int silt_dense_index_flush(silt_dense_index *ix, char **err);
/* Empties the index. keep_training = 1 keeps a trained quantizer (for re-adding the same
 * data); 0 starts over untrained. */
int silt_dense_index_clear(silt_dense_index *ix, int keep_training, char **err);

/* Searches for the nearest rows to q (dim floats). */
int silt_dense_index_search(silt_dense_index *ix, const float *q, const silt_dense_query *opt,
                            silt_dense_hits *out, char **err);
void silt_dense_hits_free(silt_dense_hits *h);

/* The vector stored for rowid as the index holds it (normalised for cosine) into out[dim].
 * Returns 1 when found, 0 when rowid is absent, -1 on error (e.g. lossy storage). */
int silt_dense_index_get_vector(silt_dense_index *ix, int64_t rowid, float *out, char **err);
/* Calls fn for every live rowid (any order); stops early and returns fn's value when it
 * is non-zero. */
int silt_dense_index_each(const silt_dense_index *ix, int (*fn)(void *ctx, int64_t rowid),
                          void *ctx);

/* Serialises the index (buffered adds flushed first) into a malloc'd buffer. */
int silt_dense_index_serialize(silt_dense_index *ix, void **buf, size_t *n_bytes, char **err);
/* Reads a serialised index, checking that it was made with the same dim, metric and
 * factory and that it is internally consistent. */
silt_dense_index *silt_dense_index_deserialize(const void *buf, size_t n_bytes, int dim,
                                               silt_metric metric, const char *factory,
                                               char **err);

/* 1 when the index description contains an HNSW graph (HNSW<M>..., IVF<n>_HNSW<M>,...). */
int silt_dense_index_has_hnsw(const silt_dense_index *ix);
/* HNSW efConstruction for the graphs this index builds from now on (also a graph read from
 * a snapshot, for the nodes added to it later). Default SILT_DENSE_EF_CONSTRUCTION_DEFAULT,
 * or for a deserialised index the value its graph was built with; the caller checks the
 * range. */
void silt_dense_index_set_ef_construction(silt_dense_index *ix, int ef_construction);
int silt_dense_index_ef_construction(const silt_dense_index *ix);

/* Threads for batched adds and training (default: online CPUs). */
void silt_dense_index_set_build_threads(silt_dense_index *ix, int n_threads);

#endif
