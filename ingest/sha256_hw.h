/* sha256_hw.h: SHA-256 of downloads at memory speed. The portable core/sha256.c runs at
 * ~260 MB/s here, which made hashing the largest single cost of a load; the x86 SHA
 * extensions (sha_ni) do ~1.5 GB/s. This feeds whole 64-byte blocks of a core silt_sha256
 * through them and leaves the partial block, padding and digest to core/sha256.c, so the
 * digest is the same either way. (Candidate to move into core/sha256.c.) */
#ifndef SILT_INGEST_SHA256_HW_H
#define SILT_INGEST_SHA256_HW_H

#include <stddef.h>

#include "core/sha256.h"

/* Same effect as silt_sha256_update(h, data, n_bytes). */
void silt_ingest_sha256_update(silt_sha256 *h, const void *data, size_t n_bytes);
/* 1 when the SHA extensions are used on this CPU. */
int silt_ingest_sha256_hw(void);

#endif
