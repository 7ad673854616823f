/* slab.h: large buffers carved one after another out of shared, 2 MiB-aligned mappings
 * marked for transparent huge pages.
 *
 * Why: the sample of a small file is held in parts until the sample is complete, and every
 * part's records, fields and text are buffers of their own. Mapped separately, each took
 * at least one fresh 2 MiB huge page, zeroed by the kernel at its first touch, however
 * little of it was used: on a 3 MB CSV of four text columns that zeroing was a quarter of
 * the parser thread's time. Carved from shared slabs, the buffers of consecutive parts
 * share huge pages and only the memory actually used is faulted in.
 *
 * Thread-safe (one lock; carving is a few instructions under it). A slab is unmapped when
 * the last buffer carved from it is freed, so nothing outlives the loads that used it.
 * Memory from silt_slab_alloc is not zeroed. */
#ifndef SILT_INGEST_SLAB_H
#define SILT_INGEST_SLAB_H

#include <stddef.h>

/* A buffer of n bytes (64-byte aligned), or NULL when out of memory. */
void *silt_slab_alloc(size_t n);

/* Frees a buffer from silt_slab_alloc or silt_slab_grow (NULL is ignored). */
void silt_slab_free(void *p);

/* p (from silt_slab_alloc with old bytes, or NULL) resized to hold n bytes, of which the
 * first used are kept: in place when p is the newest buffer of its slab and the slab has
 * room, else moved. NULL when out of memory (p is then unchanged and still valid). */
void *silt_slab_grow(void *p, size_t old, size_t used, size_t n);

/* A zeroed anonymous mapping of n bytes (a multiple of 2 MiB) starting at a multiple of
 * align (a power of two, at least 2 MiB), marked for transparent huge pages; NULL when the
 * kernel refuses. Freed with munmap(p, n). */
void *silt_map_huge(size_t n, size_t align);

#endif
