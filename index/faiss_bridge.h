/* faiss_bridge.h: the few FAISS calls that FAISS 1.7.3's C API lacks, implemented in
 * faiss_ext.cpp (one small extern "C" C++ file); everything else uses the C API.
 *
 *   - search with an IDSelector (a bitmap over FAISS ids) and a per-query efSearch or
 *     nprobe, which the 1.7.3 C API cannot pass (SearchParameters);
 *   - add, train and search on an explicit number of OpenMP threads (one for single
 *     queries: an OpenMP team per query costs more than the query when the other core is
 *     busy; several for batched adds and builds);
 *   - a look into the index's structure: how many training vectors it needs, whether its
 *     storage is exact (so integrity-check can compare vectors), what kind it is;
 *   - the HNSW build breadth (efConstruction), which the C API cannot set.
 *
 * No C++ exception leaves these functions: every one is caught and turned into a malloc'd
 * message (core/err.h conventions: return -1 and set *err). */
#ifndef SILT_FAISS_BRIDGE_H
#define SILT_FAISS_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "c_api/Index_c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an index is, for choosing search parameters and fallbacks. */
typedef enum {
    SILT_FAISS_FLAT = 0,  /* brute force: exact, selector supported */
    SILT_FAISS_HNSW = 1,  /* graph: efSearch applies; exhaustive = search its storage */
    SILT_FAISS_IVF = 2,   /* inverted lists: nprobe applies; exhaustive = nprobe = nlist */
    SILT_FAISS_OTHER = 3, /* anything else (PQ, SQ, LSH, ...): plain search */
} silt_faiss_kind;

typedef struct {
    int ef_search;          /* HNSW efSearch for this query; 0 = the index's own value */
    int nprobe;             /* IVF nprobe for this query; 0 = the index's own value */
    const uint8_t *bitmap;  /* when not NULL, only ids whose bit is set are returned */
    size_t bitmap_bytes;    /* bytes of bitmap (ids >= 8 * bitmap_bytes are excluded) */
    int exhaustive;         /* 1: visit every vector (HNSW: its storage; IVF: every list) */
    int n_threads;          /* OpenMP threads for this call; <= 0 means 1 */
} silt_faiss_search_params;

/* Returned by silt_faiss_search when the index cannot apply a selector (e.g. IndexPQ): the
 * caller then searches without one and filters the results itself. */
#define SILT_FAISS_NO_SELECTOR 1

/* Searches nq queries x[nq * d] for k neighbours each: D[nq * k] distances as FAISS
 * reports them (squared L2, or inner product), I[nq * k] FAISS ids, -1 past the last hit.
 * Returns 0, SILT_FAISS_NO_SELECTOR, or -1 with *err set. */
int silt_faiss_search(const FaissIndex *index, int64_t nq, const float *x, int64_t k,
                      const silt_faiss_search_params *p, float *D, int64_t *I, char **err);

/* index->add(n, x) on n_threads OpenMP threads. Returns 0 or -1 with *err set. */
int silt_faiss_add(FaissIndex *index, int64_t n, const float *x, int n_threads, char **err);

/* index->train(n, x) on n_threads OpenMP threads. Returns 0 or -1 with *err set. */
int silt_faiss_train(FaissIndex *index, int64_t n, const float *x, int n_threads, char **err);

/* Number of vectors the index should be trained on before it is used (39 per centroid, as
 * FAISS's k-means warns below that); 0 when the index needs no training. */
int64_t silt_faiss_train_min(const FaissIndex *index);

/* 1 when reconstruct() returns the added vectors exactly (Flat, HNSW over Flat), 0 for
 * lossy codes and for indexes that cannot reconstruct without extra structures (IVF). */
int silt_faiss_exact_storage(const FaissIndex *index);

/* The kind of the index (looking through pre-transforms such as PCA or OPQ). */
silt_faiss_kind silt_faiss_kind_of(const FaissIndex *index);

/* Sets the HNSW graph-build breadth (FAISS's efConstruction, default 40) of every HNSW
 * graph in the index: a bare HNSW, an IVF's HNSW quantizer, under any pre-transforms. It
 * applies to vectors added afterwards. Returns the number of graphs it was set on. */
int silt_faiss_set_ef_construction(FaissIndex *index, int ef_construction);
/* efConstruction of the index's first HNSW graph (as above), 0 when it has none. */
int silt_faiss_get_ef_construction(const FaissIndex *index);

/* Moves the large arrays a search reads (flat codes, HNSW graphs; through pre-transforms and
 * IVF quantizers) onto transparent huge pages where the kernel allows them. For an index
 * just read from a snapshot; on failure the arrays stay where they are. */
void silt_faiss_prefer_huge_pages(FaissIndex *index);

/* Copies index->reconstruct(key) into out[d]. Returns 0 or -1 with *err set. */
int silt_faiss_reconstruct(const FaissIndex *index, int64_t key, float *out, char **err);

#ifdef __cplusplus
}
#endif

#endif
