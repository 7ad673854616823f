/* hasher.h: the SHA-256 of a long download, computed on a thread of its own.
 *
 * A load's parser thread reads the bytes, hashes them (for silt_sources) and parses them;
 * on a large file it is the slower of the load's two threads, and hashing was a fifth of
 * its time. Handing the bytes to a hashing thread costs a copy (about a tenth of hashing
 * them) and lets the hash run on whichever core has room. Short downloads are hashed
 * where they are read: a thread is not worth starting for them.
 *
 *   silt_hasher *h = silt_hasher_start(d);       // continues a running digest
 *   silt_hasher_feed(h, p, n);                   // copies; blocks while the thread is behind
 *   silt_hasher_finish(h);                       // waits until d has every byte, frees h
 */
#ifndef SILT_INGEST_HASHER_H
#define SILT_INGEST_HASHER_H

#include <stddef.h>

#include "ingest/digest.h"

typedef struct silt_hasher silt_hasher;

/* A hashing thread that continues d (the bytes hashed so far), or NULL when no thread or
 * memory could be had (the caller then goes on hashing itself). The thread uses d until
 * silt_hasher_finish returns: the caller must not touch it meanwhile. */
silt_hasher *silt_hasher_start(silt_digest *d);

/* Adds n bytes to the hash, in order. */
void silt_hasher_feed(silt_hasher *h, const void *p, size_t n);

/* Waits until every byte fed is in the digest, and frees h. */
void silt_hasher_finish(silt_hasher *h);

#endif
