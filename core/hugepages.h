/* hugepages.h: asking the kernel to back large arrays with transparent huge pages.
 *
 * Two costs on the VMs this project runs on make 4 KiB pages expensive for large arrays:
 * faulting a page in (15-22 us, where a 2 MiB page costs about as much as a handful), and a
 * hidden first-touch cost of pages not used for a while: a 256 MiB array read one page at a
 * time (2 KiB from each) after 1 GiB of other memory was written took 2.2-4.4 us a page on
 * 4 KiB pages, 0.39-0.46 us on huge pages (repeated at once: 0.34-0.42 us either way). A
 * search that reads scattered entries of a large index (HNSW vectors, posting lengths) pays
 * the second cost on every entry it has not read recently; and with 4 KiB pages nearly every
 * such read is a TLB miss, which on a virtual machine walks two page tables.
 *
 * The kernel picks a page's size when the page is first faulted in, so the advice must come
 * before the array is first written. It is only a hint: where transparent huge pages are off
 * (or "never"), nothing changes. Safe for any memory (heap, mmap); only the 2 MiB-aligned
 * interior of a range is advised, so neighbouring allocations are not affected. */
#ifndef SILT_CORE_HUGEPAGES_H
#define SILT_CORE_HUGEPAGES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SILT_HUGE_PAGE ((size_t)2 << 20)

/* Advises the whole 2 MiB pages inside [p, p + n) to be huge; a no-op below one page. */
void silt_advise_huge(void *p, size_t n);

/* 1 when a temporary copy of n bytes would take at most a quarter of the memory the machine
 * has free now, else 0. Moving an array that is already filled onto advised memory holds two
 * copies for a moment; for a multi-gigabyte index that must not push the host process into
 * the kernel's out-of-memory killer, so such a move is skipped (the array stays on small
 * pages, which costs speed only). */
int silt_huge_move_affordable(size_t n);

#ifdef __cplusplus
}
#endif

#endif
