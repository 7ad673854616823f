/* threads.h: one small process-wide thread pool and a parallel-for over it.
 *
 *   static void work(void *ctx, int task, int worker) { ... }
 *   silt_threads_for(n_chunks, work, &ctx);    returns when every task has run
 *
 * The pool has silt_threads_count() workers: the calling thread (worker 0) plus
 * count-1 helper threads started on first use (one per online CPU, at most 16).
 * Worker indices let a caller hand each worker its own scratch buffer.
 *
 * Safe from several threads: only one parallel-for runs on the helpers at a time; a call
 * made while the pool is busy (from another thread, or nested inside a task) runs its tasks
 * on the calling thread instead of waiting, so it can never deadlock. After fork() the child
 * starts its own helpers on first use.
 *
 * BLAS: OpenBLAS (pthread build) threads each large sgemm itself, and its thread count is a
 * process-wide setting we must not change under other users (FAISS shares it). Encoders use
 * the pool for the work BLAS does not thread (per-text attention, norms, tokenising) and
 * leave the big batched GEMMs to OpenBLAS on the calling thread; see use_lite.c for the
 * measurements behind that choice. */
#ifndef SILT_THREADS_H
#define SILT_THREADS_H

typedef void (*silt_threads_fn)(void *ctx, int task, int worker);

/* Number of workers a parallel-for may use (>= 1), including the calling thread. */
int silt_threads_count(void);

/* Runs fn(ctx, task, worker) once for every task in [0, n_tasks) and returns when all are
 * done. worker is in [0, silt_threads_count()); two tasks running at the same time never
 * share a worker index. Tasks should be coarse (microseconds or more each). */
void silt_threads_for(int n_tasks, silt_threads_fn fn, void *ctx);

#endif
