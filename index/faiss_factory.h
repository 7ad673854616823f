/* faiss_factory.h: the FAISS index_factory descriptions silt accepts, checked before FAISS
 * sees them.
 *
 * FAISS's index_factory trusts its caller: "PQ0", "IVF0,Flat", "NSG8" or "Residual0x8"
 * crash the process (SIGFPE / SIGSEGV) and "HNSW1" or "IVF100000000,Flat" never return,
 * so a CREATE VIRTUAL TABLE could take down the host application. silt therefore accepts a
 * grammar of known-good descriptions with bounded parameters:
 *
 *   [transform,]... base
 *   transform := PCA<d> | PCAR<d> | PCAW<d> | PCAWR<d> | OPQ<m>[_<d>] | L2norm
 *   base      := Flat | LSH | SQ4 | SQ6 | SQ8 | SQfp16 | PQ<m>[x<bits>][fs]
 *              | HNSW<M>[_Flat | ,Flat | ,PQ<m>[x<bits>] | ,SQ4 | ,SQ6 | ,SQ8 | ,SQfp16]
 *              | IVF<nlist>[_HNSW<M>],<Flat | PQ<m>[x<bits>][fs] | SQ4 | SQ6 | SQ8 | SQfp16>
 *
 * with 2 <= M <= 512, 1 <= nlist <= 262144, 1 <= bits <= 16, 1 <= d <= 65536, and m a divisor
 * of the dimension it applies to (after PCA / OPQ transforms).
 * (FAISS throws on a bad m as well, but leaks the half-built index when it does.) Other
 * combinations FAISS refuses fail in FAISS with its message, an exception silt catches. */
#ifndef SILT_FAISS_FACTORY_H
#define SILT_FAISS_FACTORY_H

/* 0 when factory is in the grammar above for vectors of dim floats; -1 with *err naming the
 * component at fault and what was expected (core/err.h). */
int silt_faiss_factory_check(const char *factory, int dim, char **err);

#endif
