/* sparse_segment.h: one immutable segment of the learned-sparse inverted index (internal to
 * index/sparse_index.c; users call sparse_index.h).
 *
 * A segment holds a fixed set of documents, numbered 0..n_docs-1 locally and grouped into
 * blocks of block_docs consecutive documents. Terms are numbered locally too (0..n_terms-1,
 * in the order of their global ids), so that every per-term table is dense.
 *
 *   forward index   per document: local term numbers (ascending; uint16 when the segment has
 *                   at most 65,536 terms, else uint32: fixed width, so that rescoring a
 *                   candidate is a tight loop) and the exact float32 weights. It gives exact
 *                   scores. In memory only (derived when built or read), the weights
 *                   quantised as the postings' impacts: candidates are ranked from these
 *                   (3 bytes a term instead of 6: rescoring is bound by memory latency).
 *   postings        per term, one entry per block holding the term:
 *                     varint block gap, uint8 count-1, count x (uint8 doc-in-block, int8 impact)
 *                   impacts are weights quantised with a per-term scale (scale = max|w| / 127,
 *                   rounded to nearest); they give partial scores cheaply, which pick the
 *                   documents to rescore exactly from the forward index.
 *   heads           with static pruning (prune < 1), per term whose list is longer than
 *                   max(prune * n_docs, SP_HEAD_MIN) postings: its strongest postings (|impact|
 *                   >= keep[t]) in document order, as varint document gaps + int8 impacts. The
 *                   fast search reads heads instead of whole lists (as Seismic's pruned lists).
 *
 * Deleting a document sets its bit in `dead`; the space comes back when segments merge. */
#ifndef SILT_SPARSE_SEGMENT_H
#define SILT_SPARSE_SEGMENT_H

/* Lists up to this long are never pruned. */
#define SP_HEAD_MIN 256

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t n_docs;      /* documents, dead ones included */
    uint32_t n_dead;      /* documents whose dead bit is set */
    uint32_t block_docs;  /* documents per block, 1..256 */
    uint32_t n_blocks;    /* ceil(n_docs / block_docs) */
    float prune;          /* heads hold max(prune * n_docs, SP_HEAD_MIN) postings (1: none) */
    int has_negative;     /* some weight is negative (derived, not stored) */
    int64_t *rowids;      /* [n_docs] rowid of each local document */
    uint32_t *by_rowid;   /* [n_docs] local documents ordered by rowid (rowids unique) */
    uint64_t *dead;       /* [(n_docs + 63) / 64] deleted documents */
    uint32_t n_terms;     /* distinct terms */
    uint32_t *term_ids;   /* [n_terms] global term ids, strictly increasing */
    float *scale;         /* [n_terms] weight of one impact unit */
    uint32_t id_bytes;    /* 2 or 4: width of the forward index's term numbers */
    void *fwd_ids;        /* local term numbers of every document, ascending per document */
    uint64_t *fwd_first;  /* [n_docs + 1] index of each document's first term and weight */
    float *fwd_w;         /* exact weights, parallel to fwd_ids */
    int8_t *fwd_q;        /* the weights quantised as the postings' impacts, parallel to
                             fwd_ids (derived from fwd_w and scale, not stored): rescoring
                             reads 3 bytes per term instead of 6, then only the few
                             candidates that may enter the top k are scored from fwd_w */
    uint64_t *post_off;   /* [n_terms + 1] byte offsets of each term's postings */
    uint8_t *post;        /* postings stream (see above) */
    uint8_t *keep;        /* [n_terms] smallest |impact| in the term's head; 0: no head (the
                             fast search reads the whole list) */
    uint64_t *head_off;   /* [n_terms + 1] byte offsets of each term's head */
    uint8_t *head;        /* heads stream (see above) */
    pthread_mutex_t scratch_lock; /* guards scratch */
    struct sp_scratch *scratch;   /* per-document work arrays kept zeroed between searches,
                                     so a search costs what it reads, not n_docs; a search
                                     that finds it busy allocates its own */
    pthread_mutex_t bmp_lock;     /* guards bmp */
    struct sp_bmp *bmp;           /* block-max tables (sparse_bmp.c), derived from the forward
                                     index at the first block-max search; NULL before */
} sp_seg;

/* Fills s->fwd_q from fwd_w and scale; 0, or -1 when out of memory. */
int silt_spseg_derive_fwd_q(sp_seg *s);

/* Sets up the scratch and block-max locks of a freshly allocated segment (before it is
 * shared). */
void silt_spseg_init_scratch(sp_seg *s);

/* One document handed to the builder: rowid and its terms, global ids strictly increasing,
 * weights finite and non-zero. The arrays belong to the caller. */
typedef struct {
    int64_t rowid;
    uint32_t n;
    const uint32_t *ids;
    const float *w;
} sp_doc;

/* Fills *doc with document i (0 <= i < n_docs) of a source; the arrays it points to must stay
 * valid until the next call. Returns 0, or -1 with *err set. */
typedef int (*sp_doc_fn)(void *ctx, uint32_t i, sp_doc *doc, char **err);

/* Builds a segment from n_docs documents given by get (in the local order they will have).
 * Rowids must be unique. Returns NULL with *err on failure. */
sp_seg *silt_spseg_build(sp_doc_fn get, void *ctx, uint32_t n_docs, uint32_t block_docs,
                         float prune, char **err);

void silt_spseg_free(sp_seg *s);

/* Local number of rowid among the live documents, or -1. */
int64_t silt_spseg_find(const sp_seg *s, int64_t rowid);

/* Marks local document d deleted (it must be live). */
void silt_spseg_kill(sp_seg *s, uint32_t d);

static inline int silt_spseg_is_dead(const sp_seg *s, uint32_t d) {
    return (int)((s->dead[d >> 6] >> (d & 63)) & 1);
}

/* Decodes document d's terms into caller buffers (grown with realloc, *cap in elements):
 * global ids and weights. Returns the term count, or -1 when out of memory. */
int64_t silt_spseg_doc(const sp_seg *s, uint32_t d, uint32_t **ids, float **w, size_t *cap);

/* Bytes held by the segment's arrays. */
uint64_t silt_spseg_bytes(const sp_seg *s);

/* ---- search ---------------------------------------------------------------------------- */

/* Bounded result heap: the k best (score, rowid) seen, worst at the root. Higher score is
 * better; equal scores prefer the smaller rowid. */
typedef struct {
    double *score;
    int64_t *rowid;
    uint32_t n, k;
} sp_heap;

/* Offers a candidate to the heap. */
void silt_sp_heap_push(sp_heap *h, double score, int64_t rowid);

/* A query as given by the user: global ids strictly increasing, finite non-zero weights. */
typedef struct {
    uint32_t n;
    const uint32_t *ids;
    const float *w;
} sp_query;

/* Query-time knobs. */
typedef struct {
    int exact;             /* 1: every posting of every query term, exact answer */
    double heap_factor;    /* (0, 1]: fast mode rescores candidates while their partial score
                              reaches heap_factor x the k-th best score (lower: more rescoring,
                              higher recall) */
    uint32_t query_terms;  /* fast mode: only the heaviest query_terms terms admit candidates;
                              the others only refine their partial scores; 0 = all admit */
    double block_max;      /* fast mode, (0, 1]: Block-Max Pruning with this alpha instead
                              (silt_spbmp_search; heap_factor and query_terms unused); 0: off */
} sp_search_opts;

/* Adds the segment's best documents to h. Term at a time, heaviest query term first (by
 * |q| x max|w|), the quantised impacts of the lists (fast mode: the heads of pruned lists;
 * terms after the first query_terms only add to documents already admitted) are summed per
 * document. Candidates are then rescored
 * from the forward index in decreasing order of their partial score (from the quantised
 * weights, then exactly for those whose error bound still reaches the k-th best): in exact mode
 * until the next one's bound (partial + quantisation error) cannot beat the k-th best, which
 * makes the answer exact; in fast mode until its partial falls below heap_factor x the k-th
 * best. Fast mode with heap_factor 1, no pruning and all query terms is exact too. When
 * pruned reading found fewer than k documents, the segment is searched exactly. allow, when
 * not NULL, is a bitset over local documents. Returns 0 or -1 (out of memory) with *err. */
int silt_spseg_search(const sp_seg *s, const sp_query *q, const uint64_t *allow,
                      const sp_search_opts *o, sp_heap *h, char **err);

/* Local term number of global term id in s, or -1 when s has no such term. */
int64_t silt_spseg_local_term(const sp_seg *s, uint32_t id);

/* ---- block-max pruning (sparse_bmp.c) ------------------------------------------------------ */

/* Documents per block of the block-max tables: on bench/sparse's collection 4-document
 * blocks bound scores tightly enough to skip most blocks, 8 and more do not. sparse_bmp.c
 * relies on 4 (a block's per-document bounds are one 64-bit word). */
#define SP_BMP_BLOCK_DOCS 4

typedef struct sp_bmp sp_bmp;
void silt_spbmp_free(sp_bmp *m);
uint64_t silt_spbmp_bytes(const sp_bmp *m);

/* Adds the segment's best documents to h by Block-Max Pruning (sparse_bmp.c): blocks scored
 * best upper bound first while alpha x the bound reaches the k-th best score; alpha 1 gives
 * exactly the exact search's answer. The first call derives the segment's tables. allow as in
 * silt_spseg_search. Returns 0 or -1 (out of memory) with *err. */
int silt_spbmp_search(const sp_seg *s, const sp_query *q, const uint64_t *allow, double alpha,
                      sp_heap *h, char **err);

/* Every block's upper bound for q as silt_spbmp_search computes it (INFINITY where the
 * integer sum saturated) into out[ceil(n_docs / SP_BMP_BLOCK_DOCS)], and every document's
 * own bound (at most its block's) into doc_out[n_docs]; either may be NULL. For tests. 0, or
 * -1 (out of memory) with *err. */
int silt_spbmp_bounds(const sp_seg *s, const sp_query *q, double *out, double *doc_out, char **err);

/* Exact score of local document d for a query mapped to local terms (qloc[n_terms], 0 where
 * the term is not in the query); *shares is set when the document has a query term. */
double silt_spseg_score(const sp_seg *s, uint32_t d, const float *qloc, int *shares);

/* qloc array for a query (calloc'd, n_terms floats; caller frees), or NULL when out of
 * memory. *n_found is the number of query terms the segment knows. */
float *silt_spseg_map_query(const sp_seg *s, const sp_query *q, uint32_t *n_found);

/* ---- serialisation ------------------------------------------------------------------------ */

/* Growing byte buffer for serialisation (sparse_segment_io.c). */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} sp_buf;
void silt_spbuf_put(sp_buf *b, const void *src, size_t n_bytes);

/* Appends the segment's bytes to b. */
void silt_spseg_write(const sp_seg *s, sp_buf *b);

/* Reads a segment from data[*pos..n_bytes), advancing *pos; every offset, stream and id is
 * checked, so a corrupt snapshot gives an error, never a crash. */
sp_seg *silt_spseg_read(const uint8_t *data, size_t n_bytes, size_t *pos, char **err);

#endif
