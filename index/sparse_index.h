/* sparse_index.h: the in-memory learned-sparse (SPLADE) inverted index behind silt_sparse.
 *
 * Documents are sparse vectors (core/sparse_vec.h) keyed by an int64 rowid; the score of a
 * document for a query is the dot product, and only documents sharing a term with the query
 * are results. There is no cap on non-zeros or on k.
 *
 * Structure: new documents go to a small unsorted memtable (scored by brute force); when it
 * holds memtable_docs documents it is sealed into an immutable segment (index/
 * sparse_segment.h: block-max inverted lists with quantised impacts, plus an exact forward
 * index), and segments of similar size are merged, four at a time, so that there are
 * O(log n) of them and each document is rewritten O(log n) times. Deletes mark a document
 * dead; merges and 'optimize' drop dead documents.
 *
 * Search, term at a time, heaviest query term first: quantised impacts give every document
 * a partial score, then candidates are rescored from the forward index in decreasing order
 * of partial score: first from its quantised weights (with an error bound), then exactly
 * from the float weights for the few whose bound can still reach the top k. Exact mode reads every posting of every query term and stops
 * rescoring when the next candidate's bound cannot beat the k-th best: the true top k. Fast
 * mode (in the spirit of Seismic) reads only the heads of long lists (static pruning at
 * build: a term keeps its max(prune x documents, 256) strongest postings), lets only the
 * query_terms heaviest terms admit candidates (the others refine their partial scores), and
 * stops rescoring when a partial score falls below heap_factor x the k-th best score.
 * Scores are always computed exactly from the stored float weights, so both modes report
 * identical scores for a row.
 *
 *   silt_spidx *ix = silt_spidx_new(NULL, &err);
 *   silt_spidx_add(ix, 7, &vec, &err);
 *   silt_spidx_search(ix, &query, 10, NULL, NULL, &hits, &n_hits, &err);
 *
 * Not thread-safe for writers; concurrent searches of an index nobody writes are safe. */
#ifndef SILT_SPARSE_INDEX_H
#define SILT_SPARSE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/sparse_vec.h"

typedef struct silt_spidx silt_spidx;

/* Build-time parameters (a change applies to segments built afterwards; 'rebuild' and
 * 'optimize' rebuild every segment). */
typedef struct {
    uint32_t block_docs;    /* documents per block, 1..256 (default 64) */
    float prune;            /* (0, 1]: each term's head (read by fast searches) keeps its
                               max(prune x documents, 256) strongest postings (default 1:
                               no static pruning) */
    uint32_t memtable_docs; /* documents buffered before a segment is built (default 1024) */
} silt_spidx_config;

#define SILT_SPIDX_BLOCK_DOCS 64
#define SILT_SPIDX_MEMTABLE_DOCS 1024

void silt_spidx_config_default(silt_spidx_config *c);

/* Checks a configuration; 0 or -1 with *err naming the bad parameter. */
int silt_spidx_config_check(const silt_spidx_config *c, char **err);

/* A new empty index (c NULL: defaults). NULL with *err on failure. */
silt_spidx *silt_spidx_new(const silt_spidx_config *c, char **err);
void silt_spidx_free(silt_spidx *ix);

/* Changes the build parameters of an existing index (checked). */
int silt_spidx_set_config(silt_spidx *ix, const silt_spidx_config *c, char **err);
void silt_spidx_get_config(const silt_spidx *ix, silt_spidx_config *c);

/* Adds a document; the rowid must not be in the index. v's ids strictly increasing, weights
 * finite and non-zero (as silt_sparse_decode gives them); v is copied. */
int silt_spidx_add(silt_spidx *ix, int64_t rowid, const silt_sparse_vec *v, char **err);

/* Deferred mode (on != 0): silt_spidx_add only buffers, however large the memtable grows, and
 * silt_spidx_flush seals and merges; for transactions, which flush once at commit instead of
 * building segments that the next statements merge again. Searches stay exact over the
 * memtable (brute force), so a large open transaction makes its own queries slower. */
void silt_spidx_set_deferred(silt_spidx *ix, int on);

/* Seals the memtable when it holds memtable_docs documents or more, and merges segments as
 * silt_spidx_add does outside deferred mode. */
int silt_spidx_flush(silt_spidx *ix, char **err);

/* Removes a document: 1 when it was there, 0 when not. */
int silt_spidx_remove(silt_spidx *ix, int64_t rowid);

/* 1 when rowid is in the index. */
int silt_spidx_contains(const silt_spidx *ix, int64_t rowid);

/* Copies the document's vector into out (owned arrays). Returns 1 found, 0 absent, -1 error. */
int silt_spidx_get(const silt_spidx *ix, int64_t rowid, silt_sparse_vec *out, char **err);

/* Live documents. */
uint64_t silt_spidx_count(const silt_spidx *ix);

/* Merges everything (memtable included) into one segment without dead documents. */
int silt_spidx_optimize(silt_spidx *ix, char **err);

/* Calls fn for every live document (order unspecified); stops at the first non-zero return
 * and returns it. */
typedef int (*silt_spidx_visit_fn)(void *ctx, int64_t rowid, const silt_sparse_vec *v);
int silt_spidx_foreach(const silt_spidx *ix, silt_spidx_visit_fn fn, void *ctx, char **err);

typedef struct {
    int exact;             /* 1: exhaustive search */
    double heap_factor;    /* fast mode, (0, 1]: rescoring goes on while a candidate's partial
                              score reaches heap_factor x the k-th best; lower finds more of
                              the documents static pruning hid, and costs more (default 1) */
    uint32_t query_terms;  /* fast mode: only the heaviest query_terms terms admit
                              candidates, the others refine their scores (0 = all admit) */
    double block_max;      /* fast mode, 0 (off, default) or (0, 1]: Block-Max Pruning
                              instead (heap_factor and query_terms unused). Blocks of 4
                              documents are scored best score bound first while block_max x
                              the bound reaches the k-th best: 1 gives the exact answer, lower
                              is faster and misses more. A segment's first such search derives
                              its block-max tables (in memory, about 0.4 bytes a posting) */
} silt_spidx_search_opts;

typedef struct {
    int64_t rowid;
    double score;
} silt_spidx_hit;

/* Which rowids a search may return: those in rowids[0..n_rowids) (sorted ascending, unique;
 * NULL = no list) and within [rowid_min, rowid_max]. */
typedef struct {
    const int64_t *rowids;
    size_t n_rowids;
    int64_t rowid_min, rowid_max;
} silt_spidx_filter;

/* The k best documents for q, highest score first (ties: smaller rowid first), among those
 * sharing a term with q and passing f (NULL: all). o NULL: fast mode with defaults. *hits is
 * malloc'd (caller frees; NULL when *n_hits is 0). */
int silt_spidx_search(const silt_spidx *ix, const silt_sparse_vec *q, uint32_t k,
                      const silt_spidx_search_opts *o, const silt_spidx_filter *f,
                      silt_spidx_hit **hits, uint32_t *n_hits, char **err);

/* Sizes, for 'integrity-check', tests and benchmarks. */
typedef struct {
    uint64_t n_docs;        /* live documents */
    uint64_t n_dead;        /* deleted documents still held by segments */
    uint32_t n_segments;
    uint32_t memtable_docs; /* documents in the memtable */
    uint64_t n_postings;    /* postings held by segments (dead ones included) */
    uint64_t bytes;         /* memory held by the index's arrays */
} silt_spidx_stats;
void silt_spidx_get_stats(const silt_spidx *ix, silt_spidx_stats *out);

/* Serialises the whole index into a malloc'd buffer. */
int silt_spidx_serialize(const silt_spidx *ix, void **out, size_t *n_bytes, char **err);

/* Reads an index back; every structure is checked, so corrupt bytes give an error (never a
 * crash or an index that answers wrongly). */
silt_spidx *silt_spidx_deserialize(const void *data, size_t n_bytes, char **err);

#endif
