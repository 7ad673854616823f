/* threads.c: the process-wide pool of threads.h.
 *
 * All pool state sits behind one mutex. Tasks are handed out under that mutex, one index
 * at a time; tasks are coarse so the lock is cheap, and it means a helper that wakes late
 * can never run a task of a job that has already finished. */
#include "core/threads.h"

#include <pthread.h>
#include <unistd.h>

#define SILT_THREADS_MAX 16

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* helpers wait here for a new job */
    pthread_cond_t done_cv; /* the job's caller waits here for the last task */
    int n_helpers;       /* helper threads started (0 until first use, or if creation failed) */
    int started;         /* helpers were started in this process */
    int busy;            /* a job currently owns the helpers */
    unsigned long gen;   /* bumped for every job, so helpers notice new work */
    silt_threads_fn fn;  /* the current job */
    void *ctx;
    int n_tasks, next, done;
    int next_worker;     /* worker index handed to the next helper that joins the job */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static int cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > SILT_THREADS_MAX) n = SILT_THREADS_MAX;
    return (int)n;
}

/* Runs tasks of the current job until none is left. Called with pool.mu held; returns with
 * it held. */
static void run_tasks(int worker) {
    while (pool.next < pool.n_tasks) {
        const int task = pool.next++;
        silt_threads_fn fn = pool.fn;
        void *ctx = pool.ctx;
        pthread_mutex_unlock(&pool.mu);
        fn(ctx, task, worker);
        pthread_mutex_lock(&pool.mu);
        if (++pool.done == pool.n_tasks) pthread_cond_broadcast(&pool.done_cv);
    }
}

static void *helper_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    unsigned long seen = pool.gen;
    for (;;) {
        while (pool.gen == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        seen = pool.gen;
        if (pool.next < pool.n_tasks) {
            const int worker = pool.next_worker++;
            run_tasks(worker);
        }
    }
    return NULL;
}

/* fork() copies only the calling thread: the child must not believe helpers exist. The
 * mutex is held across fork so the child gets it in a consistent state. */
static void atfork_prepare(void) { pthread_mutex_lock(&pool.mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void atfork_child(void) {
    pool.n_helpers = 0;
    pool.started = 0;
    pool.busy = 0;
    pool.n_tasks = pool.next = pool.done = 0;
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done_cv, NULL);
    pthread_mutex_unlock(&pool.mu);
}
static void install_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

/* Starts the helpers once per process. Called with pool.mu held. A helper that cannot be
 * created just means fewer workers. */
static void start_helpers(void) {
    if (pool.started) return;
    pool.started = 1;
    const int want = cpu_count() - 1;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < want; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, helper_main, NULL) != 0) break;
        pool.n_helpers++;
    }
    pthread_attr_destroy(&attr);
}

int silt_threads_count(void) { return cpu_count(); }

void silt_threads_for(int n_tasks, silt_threads_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (n_tasks == 1) {
        fn(ctx, 0, 0);
        return;
    }
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&pool.mu);
    start_helpers();
    if (pool.busy || pool.n_helpers == 0) {
        /* Someone else owns the helpers (or there are none): run serially here. Worker 0 is
         * ours alone because this call's scratch is its own. */
        pthread_mutex_unlock(&pool.mu);
        for (int i = 0; i < n_tasks; i++) fn(ctx, i, 0);
        return;
    }
    pool.busy = 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    pool.next = 0;
    pool.done = 0;
    pool.next_worker = 1;
    pool.gen++;
    pthread_cond_broadcast(&pool.wake);
    run_tasks(0);
    while (pool.done < pool.n_tasks) pthread_cond_wait(&pool.done_cv, &pool.mu);
    pool.n_tasks = pool.next = pool.done = 0;
    pool.fn = NULL;
    pool.ctx = NULL;
    pool.busy = 0;
    pthread_mutex_unlock(&pool.mu);
}
