/* hasher.h: the SHA-256 of a long download, computed on a thread of its own.
 *
 * A load's parser thread reads the bytes, hashes them (for silt_sources) and parses them;
 * on a large file it is the slower of the load's two threads, and hashing was a fifth of
 * its time. Handing the bytes to a hashing thread costs a copy (about a tenth of hashing
 * them) and lets the hash run on whichever core has room. Short downloads are hashed
 * where they are read: a thread is not worth starting for them.
 *
 *   silt_hasher *h = silt_hasher_start(&sha);    // takes over a running hash
 *   silt_hasher_feed(h, p, n);                   // copies; blocks while the thread is behind
 *   silt_hasher_finish(h, &sha);                 // waits, gives the hash back, frees h
 */
#ifndef SILT_INGEST_HASHER_H
#define SILT_INGEST_HASHER_H

#include <stddef.h>

#include "core/sha256.h"

typedef struct silt_hasher silt_hasher;

/* A hashing thread that continues *sha (the bytes hashed so far), or NULL when no thread or
 * memory could be had (the caller then goes on hashing itself). */
silt_hasher *silt_hasher_start(const silt_sha256 *sha);

/* Adds n bytes to the hash, in order. */
void silt_hasher_feed(silt_hasher *h, const void *p, size_t n);

/* Waits for every byte fed to be hashed, stores the hash state in *sha and frees h. */
void silt_hasher_finish(silt_hasher *h, silt_sha256 *sha);

#endif
