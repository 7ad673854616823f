/* hugepages.c: see hugepages.h. */
#include "core/hugepages.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

void silt_advise_huge(void *p, size_t n) {
    if (!p) return;
    uintptr_t lo = ((uintptr_t)p + SILT_HUGE_PAGE - 1) & ~(uintptr_t)(SILT_HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(uintptr_t)(SILT_HUGE_PAGE - 1);
    /* Advice only: a kernel without transparent huge pages refuses it, harmlessly. */
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

int silt_huge_move_affordable(size_t n) {
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;
    return n / (size_t)page <= (size_t)pages / 4;
}
