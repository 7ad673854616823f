/* heap_warm.c: see heap_warm.h. */
#include "core/heap_warm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Linux 5.14's populate advice; older headers lack the constant, and older kernels refuse it
 * (EINVAL), which the step notices once and then touches pages instead. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Below glibc's smallest mmap threshold (128 KiB): the blocks come from the heap itself, not
 * from mappings of their own that free() would unmap. */
#define WARM_BLOCK ((size_t)64 * 1024)
#define WARM_PAGE 4096
#define WARM_STEP 2 /* blocks a step: 32 page faults */

void silt_heap_warm_init(silt_heap_warm *w, size_t bytes) {
    memset(w, 0, sizeof *w);
    w->populate = 1;
    size_t n = bytes / WARM_BLOCK;
    if (n > SILT_HEAP_WARM_MAX_BLOCKS) n = SILT_HEAP_WARM_MAX_BLOCKS;
    w->target = n ? n + 1 : 0; /* the fence is one block more than the run it keeps */
}

int silt_heap_warm_step(silt_heap_warm *w) {
    for (int i = 0; i < WARM_STEP && !w->settled && w->n < w->target; i++) {
        volatile char *p = malloc(WARM_BLOCK);
        if (!p) {
            w->target = w->n;
            break;
        }
        /* One madvise makes a block's pages resident for a few microseconds each, where a
         * write per page takes a fault each (15-20 us on this project's VMs: 2 MiB in
         * 1.2-1.8 ms against 7-10 ms, measured in one process). The block's edges are not
         * page-aligned: they are written, as is everything when the advice is refused. */
        uintptr_t lo = ((uintptr_t)p + WARM_PAGE - 1) & ~(uintptr_t)(WARM_PAGE - 1);
        uintptr_t hi = ((uintptr_t)p + WARM_BLOCK) & ~(uintptr_t)(WARM_PAGE - 1);
        if (w->populate && (hi <= lo || madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) != 0))
            w->populate = 0;
        if (w->populate) {
            p[0] = 0;
            p[WARM_BLOCK - 1] = 0;
        } else {
            for (size_t off = 0; off < WARM_BLOCK; off += WARM_PAGE) p[off] = 0;
        }
        w->blocks[w->n++] = (void *)p;
    }
    return !w->settled && w->n < w->target;
}

void silt_heap_warm_settle(silt_heap_warm *w) {
    if (w->settled) return;
    w->settled = 1;
    if (w->n == 0) return;
    for (size_t i = 0; i + 1 < w->n; i++) free(w->blocks[i]);
    w->blocks[0] = w->blocks[w->n - 1];
    w->n = 1;
}

void silt_heap_warm_release(silt_heap_warm *w) {
    for (size_t i = 0; i < w->n; i++) free(w->blocks[i]);
    w->n = 0;
    w->settled = 1;
}
