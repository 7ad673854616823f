/* heap_warm.h: fault in heap memory while a thread waits, ahead of an allocation-heavy
 * phase on the same thread.
 *
 * A load writes its new pages through SQLite's page cache, which takes each page from
 * malloc when it first needs it; on a fresh heap every one of those allocations faults in
 * new memory on the inserting thread, a load's critical path (for a 3 MB file about 500
 * faults at 8-15 us each on this project's VMs). That thread waits idle for several
 * milliseconds while the first records are downloaded and parsed, so it can take the
 * faults then: silt_heap_warm_step allocates blocks of the heap and makes their pages
 * resident (MADV_POPULATE_WRITE, one system call a block; one write a page where the
 * kernel refuses it); silt_heap_warm_settle frees all blocks but the last, which stays
 * allocated as a fence between the freed run and the top of the heap, so that the
 * allocator keeps the run, and its resident pages, for the next allocations of the same
 * thread (the same arena) instead of handing it back to the system.
 *
 * Only a hint: with an allocator that behaves otherwise nothing is gained and nothing
 * breaks; an allocation failure ends the warming quietly. */
#ifndef SILT_CORE_HEAP_WARM_H
#define SILT_CORE_HEAP_WARM_H

#include <stddef.h>

#define SILT_HEAP_WARM_MAX_BLOCKS 512 /* of 64 KiB: 32 MiB at most */

typedef struct silt_heap_warm {
    void *blocks[SILT_HEAP_WARM_MAX_BLOCKS + 1];
    size_t n;      /* blocks held */
    size_t target; /* blocks to hold, the fence included */
    int settled;   /* silt_heap_warm_settle ran: at most the fence is held */
    int populate;  /* pages are made resident with madvise (0 once the kernel refused it) */
} silt_heap_warm;

/* Prepares to warm about `bytes` (nothing is allocated yet). */
void silt_heap_warm_init(silt_heap_warm *w, size_t bytes);

/* Faults in the next few blocks (well under a millisecond). 1 while there is more to do. */
int silt_heap_warm_step(silt_heap_warm *w);

/* Frees every block but the fence: once the wait is over, before the allocating phase. */
void silt_heap_warm_settle(silt_heap_warm *w);

/* Frees whatever is still held (after the phase). */
void silt_heap_warm_release(silt_heap_warm *w);

#endif
