/* test_heap_warm.c: core/heap_warm.c (suite heap_warm): warming stops at its target or
 * when settled, keeps only the fence after settling, and (with glibc's allocator, which it
 * is written for) the next allocations of the thread come from the warmed run. */
#include <stdint.h>

#include "core/heap_warm.h"
#include "testutil.h"

Test(heap_warm, steps_until_the_target_then_keeps_only_the_fence) {
    silt_heap_warm w;
    silt_heap_warm_init(&w, 0);
    cr_assert_eq(silt_heap_warm_step(&w), 0, "nothing to warm");
    cr_assert_eq(w.n, 0);
    silt_heap_warm_settle(&w);
    silt_heap_warm_release(&w);

    silt_heap_warm_init(&w, (size_t)10 * 65536);
    int steps = 0;
    while (silt_heap_warm_step(&w)) steps++;
    cr_assert_eq(w.n, 11, "ten blocks and the fence, got %zu", w.n);
    cr_assert_gt(steps, 1, "warming comes in steps");
    silt_heap_warm_settle(&w);
    cr_assert_eq(w.n, 1);
    cr_assert_eq(silt_heap_warm_step(&w), 0, "no warming after settling");
    silt_heap_warm_settle(&w); /* twice is harmless */
    cr_assert_eq(w.n, 1);
    silt_heap_warm_release(&w);
    cr_assert_eq(w.n, 0);

    silt_heap_warm_init(&w, SIZE_MAX / 2); /* capped */
    cr_assert_eq(w.target, SILT_HEAP_WARM_MAX_BLOCKS + 1);
    silt_heap_warm_release(&w); /* release without settling frees what it holds */

    /* Settled early (the records came first): what was warmed is kept, the rest skipped. */
    silt_heap_warm_init(&w, (size_t)100 * 65536);
    cr_assert_eq(silt_heap_warm_step(&w), 1);
    size_t held = w.n;
    cr_assert_gt(held, 0);
    silt_heap_warm_settle(&w);
    cr_assert_eq(w.n, 1);
    silt_heap_warm_release(&w);
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
/* Page-sized allocations after settling land inside the warmed run, not above it (glibc's
 * allocator; not under ASan or valgrind, which bring their own). */
Test(heap_warm, later_allocations_reuse_the_warmed_run) {
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload")) cr_skip_test("valgrind's allocator");
    silt_heap_warm w;
    silt_heap_warm_init(&w, (size_t)16 * 65536);
    while (silt_heap_warm_step(&w)) {}
    uintptr_t lo = (uintptr_t)w.blocks[0], fence = (uintptr_t)w.blocks[w.n - 1];
    for (size_t i = 0; i + 1 < w.n; i++)
        if ((uintptr_t)w.blocks[i] < lo) lo = (uintptr_t)w.blocks[i];
    silt_heap_warm_settle(&w);
    void *p[64];
    int inside = 0;
    for (int i = 0; i < 64; i++) {
        p[i] = malloc(4200); /* a SQLite page with its header */
        cr_assert_not_null(p[i]);
        inside += (uintptr_t)p[i] >= lo && (uintptr_t)p[i] < fence;
    }
    for (int i = 0; i < 64; i++) free(p[i]);
    silt_heap_warm_release(&w);
    cr_assert_gt(inside, 48, "%d of 64 allocations came from the warmed run", inside);
}
#endif

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>

/* Every whole page of every warmed block is resident after its step, whichever way it was
 * made so: by madvise where the kernel has MADV_POPULATE_WRITE (then that path must have
 * been taken), by a write a page where it has not or when told not to try. */
static void assert_blocks_resident(const silt_heap_warm *w, size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned char vec[64];
    for (size_t i = 0; i < n; i++) {
        uintptr_t lo = ((uintptr_t)w->blocks[i] + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
        uintptr_t hi = ((uintptr_t)w->blocks[i] + 65536) & ~(uintptr_t)(page - 1);
        size_t pages = (hi - lo) / (size_t)page;
        cr_assert_leq(pages, sizeof vec);
        cr_assert_eq(mincore((void *)lo, hi - lo, vec), 0);
        for (size_t k = 0; k < pages; k++)
            cr_assert(vec[k] & 1, "block %zu page %zu of %zu not resident", i, k, pages);
    }
}

static int kernel_populates(void) {
    size_t len = 4 * (size_t)sysconf(_SC_PAGESIZE);
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    int ok = madvise(m, len, 23 /* MADV_POPULATE_WRITE */) == 0;
    munmap(m, len);
    return ok;
}

Test(heap_warm, warmed_blocks_are_resident) {
    silt_heap_warm w;
    silt_heap_warm_init(&w, (size_t)8 * 65536);
    while (silt_heap_warm_step(&w)) {}
    cr_assert_eq(w.n, 9);
    assert_blocks_resident(&w, w.n);
    cr_assert_eq(w.populate, kernel_populates(), "madvise used exactly when the kernel has it");
    silt_heap_warm_release(&w);

    silt_heap_warm_init(&w, (size_t)8 * 65536);
    w.populate = 0; /* the fallback: a write a page */
    while (silt_heap_warm_step(&w)) {}
    assert_blocks_resident(&w, w.n);
    silt_heap_warm_release(&w);
}
#endif
