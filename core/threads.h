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
 * Products and BLAS (core/ops.c): on CPUs with AVX-512F, silt_ops_gemm runs silt's own
 * sgemm (ops_gemm.c) split over this pool, and OpenBLAS is not involved. Elsewhere it calls
 * OpenBLAS, whose thread count is one process-wide setting (OPENBLAS_NUM_THREADS /
 * openblas_set_num_threads) shared with FAISS and every other BLAS user in the process, so
 * silt never changes it and adapts instead:
 *  - OpenBLAS on several threads (the default): each large GEMM is one BLAS call that
 *    OpenBLAS splits.
 *  - OpenBLAS on one thread: large GEMMs are split by output columns over this pool, each
 *    block a single-threaded BLAS call.
 * Why the pool rather than OpenBLAS threads where we have the choice: OpenBLAS's helpers spin
 * (sched_yield) waiting for work, which collapses on a busy machine, while the pool's helpers
 * sleep on a condition variable and tasks are handed out one at a time, so the share of a
 * descheduled helper is taken by the caller. On the shared 2-core machine at load average
 * ~12, USE-Lite through OpenBLAS encoded 1.4-2x faster with OPENBLAS_NUM_THREADS=1 (pool)
 * than with OpenBLAS's 2 threads. */
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
