/* sparse_segment_io.c: a segment's bytes in a sparse index snapshot, and the checks that
 * make reading a corrupt snapshot an error instead of a crash. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hugepages.h"
#include "index/sparse_segment.h"
#include "index/varint.h"


void silt_spbuf_put(sp_buf *b, const void *src, size_t n_bytes) {
    if (b->oom) return;
    if (b->cap - b->n < n_bytes) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc - b->n < n_bytes) {
            if (nc > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            nc *= 2;
        }
        uint8_t *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = nc;
    }
    if (n_bytes) memcpy(b->p + b->n, src, n_bytes);
    b->n += n_bytes;
}

static void put_u32(sp_buf *b, uint32_t x) { silt_spbuf_put(b, &x, 4); }

/* Segment record: "SSEG", n_docs, n_dead, block_docs, n_terms, prune (float), id_bytes, then
 * the arrays rowids, by_rowid, dead, term_ids, scale, fwd_first, fwd_ids, fwd_w, post_off,
 * post, keep, head_off, head; array lengths follow from the counts and the last offsets. Host byte order
 * (little-endian on every platform silt builds for). */
void silt_spseg_write(const sp_seg *s, sp_buf *b) {
    silt_spbuf_put(b, "SSEG", 4);
    put_u32(b, s->n_docs), put_u32(b, s->n_dead), put_u32(b, s->block_docs);
    put_u32(b, s->n_terms);
    silt_spbuf_put(b, &s->prune, 4);
    put_u32(b, s->id_bytes);
    size_t nd = s->n_docs, nt = s->n_terms;
    silt_spbuf_put(b, s->rowids, nd * 8);
    silt_spbuf_put(b, s->by_rowid, nd * 4);
    silt_spbuf_put(b, s->dead, (nd + 63) / 64 * 8);
    silt_spbuf_put(b, s->term_ids, nt * 4);
    silt_spbuf_put(b, s->scale, nt * 4);
    silt_spbuf_put(b, s->fwd_first, (nd + 1) * 8);
    silt_spbuf_put(b, s->fwd_ids, s->fwd_first[nd] * s->id_bytes);
    silt_spbuf_put(b, s->fwd_w, s->fwd_first[nd] * 4);
    silt_spbuf_put(b, s->post_off, (nt + 1) * 8);
    silt_spbuf_put(b, s->post, s->post_off[nt]);
    silt_spbuf_put(b, s->keep, nt);
    silt_spbuf_put(b, s->head_off, (nt + 1) * 8);
    silt_spbuf_put(b, s->head, s->head_off[nt]);
}

/* Copies n_bytes from data[*pos] into a fresh allocation (at least 8 bytes), or NULL when the
 * data is short (*short_ set) or memory runs out. */
static void *take(const uint8_t *data, size_t len, size_t *pos, uint64_t n_bytes, int *short_) {
    if (n_bytes > len - *pos) {
        *short_ = 1;
        return NULL;
    }
    void *p = malloc(n_bytes + 8);
    if (!p) return NULL;
    silt_advise_huge(p, n_bytes + 8); /* before memcpy first touches it */
    memcpy(p, data + *pos, n_bytes);
    memset((uint8_t *)p + n_bytes, 0, 8); /* padding that decoders may read, defined */
    *pos += n_bytes;
    return p;
}

/* Walks every stream of a freshly read segment; 0 when consistent. *what names the problem. */
static int validate(const sp_seg *s, const char **what) {
    size_t nd = s->n_docs, nt = s->n_terms;
    *what = "rowid order";
    for (size_t i = 0; i < nd; i++)
        if (s->by_rowid[i] >= nd || (i && s->rowids[s->by_rowid[i]] <= s->rowids[s->by_rowid[i - 1]]))
            return -1;
    *what = "deleted count";
    uint64_t dead = 0;
    for (size_t w = 0; w < (nd + 63) / 64; w++) dead += (uint64_t)__builtin_popcountll(s->dead[w]);
    if (nd % 64 && (s->dead[nd / 64] >> (nd % 64))) return -1;
    if (dead != s->n_dead) return -1;
    *what = "term dictionary";
    for (size_t i = 0; i < nt; i++)
        if ((i && s->term_ids[i] <= s->term_ids[i - 1]) || !(s->scale[i] > 0) || !isfinite(s->scale[i]))
            return -1;
    *what = "offsets";
    if (s->fwd_first[0] || s->post_off[0] || s->head_off[0]) return -1;
    for (size_t d = 0; d < nd; d++)
        if (s->fwd_first[d + 1] < s->fwd_first[d]) return -1;
    for (size_t lt = 0; lt < nt; lt++)
        if (s->post_off[lt + 1] < s->post_off[lt] || s->head_off[lt + 1] < s->head_off[lt]) return -1;
    *what = "forward index";
    for (size_t d = 0; d < nd; d++) {
        for (uint64_t i = s->fwd_first[d]; i < s->fwd_first[d + 1]; i++) {
            uint64_t lt = s->id_bytes == 2 ? ((const uint16_t *)s->fwd_ids)[i]
                                           : ((const uint32_t *)s->fwd_ids)[i];
            uint64_t prev = i > s->fwd_first[d] ? (s->id_bytes == 2 ? ((const uint16_t *)s->fwd_ids)[i - 1]
                                                                    : ((const uint32_t *)s->fwd_ids)[i - 1])
                                                : 0;
            if (lt >= nt || (i > s->fwd_first[d] && lt <= prev)) return -1;
            float w = s->fwd_w[i];
            if (!isfinite(w) || w == 0 || fabsf(w) / s->scale[lt] > 127.0f) return -1;
            if (w < 0) ((sp_seg *)s)->has_negative = 1;
        }
    }
    *what = "postings";
    for (size_t lt = 0; lt < nt; lt++) {
        const uint8_t *p = s->post + s->post_off[lt], *e = s->post + s->post_off[lt + 1];
        uint64_t b = 0;
        for (int first = 1; p < e; first = 0) {
            uint32_t g;
            if (silt_vget_checked(&p, e, &g) || (!first && g == 0)) return -1;
            b += g;
            if (b >= s->n_blocks || p >= e) return -1;
            uint32_t cnt = (uint32_t)*p++ + 1;
            if ((uint64_t)(e - p) < 2 * (uint64_t)cnt) return -1;
            for (uint32_t j = 0; j < cnt; j++, p += 2) {
                uint64_t d = b * s->block_docs + p[0];
                if (p[0] >= s->block_docs || d >= nd || (int8_t)p[1] == -128) return -1;
            }
        }
        if (s->keep[lt] > 127 || (!s->keep[lt] && s->head_off[lt + 1] != s->head_off[lt])) return -1;
        p = s->head + s->head_off[lt], e = s->head + s->head_off[lt + 1];
        uint64_t d = 0;
        for (int first = 1; p < e; first = 0) {
            uint32_t g;
            if (silt_vget_checked(&p, e, &g) || (!first && g == 0)) return -1;
            d += g;
            if (d >= nd || p >= e || (int8_t)*p == -128) return -1;
            p++;
        }
    }
    return 0;
}

sp_seg *silt_spseg_read(const uint8_t *data, size_t n_bytes, size_t *pos, char **err) {
    if (n_bytes - *pos < 28 || memcmp(data + *pos, "SSEG", 4) != 0) {
        silt_err(err, "sparse index snapshot: segment header missing at byte %zu", *pos);
        return NULL;
    }
    sp_seg *s = calloc(1, sizeof *s);
    if (!s) return silt_err(err, "out of memory reading a sparse index segment"), NULL;
    silt_spseg_init_scratch(s);
    const uint8_t *h = data + *pos + 4;
    memcpy(&s->n_docs, h, 4), memcpy(&s->n_dead, h + 4, 4), memcpy(&s->block_docs, h + 8, 4);
    memcpy(&s->n_terms, h + 12, 4), memcpy(&s->prune, h + 16, 4), memcpy(&s->id_bytes, h + 20, 4);
    *pos += 28;
    if (s->block_docs < 1 || s->block_docs > 256 || !(s->prune > 0 && s->prune <= 1) ||
        s->n_dead > s->n_docs || (s->id_bytes != 2 && s->id_bytes != 4) ||
        (s->id_bytes == 2 && s->n_terms > 65536)) {
        silt_spseg_free(s);
        silt_err(err, "sparse index snapshot: bad segment header");
        return NULL;
    }
    s->n_blocks = (uint32_t)(((uint64_t)s->n_docs + s->block_docs - 1) / s->block_docs);
    size_t nd = s->n_docs, nt = s->n_terms;
    int sh = 0;
    const char *what = "";
    s->rowids = take(data, n_bytes, pos, nd * 8, &sh);
    s->by_rowid = s->rowids ? take(data, n_bytes, pos, nd * 4, &sh) : NULL;
    s->dead = s->by_rowid ? take(data, n_bytes, pos, (nd + 63) / 64 * 8, &sh) : NULL;
    s->term_ids = s->dead ? take(data, n_bytes, pos, nt * 4, &sh) : NULL;
    s->scale = s->term_ids ? take(data, n_bytes, pos, nt * 4, &sh) : NULL;
    s->fwd_first = s->scale ? take(data, n_bytes, pos, (nd + 1) * 8, &sh) : NULL;
    if (!s->fwd_first) goto bad;
    if (s->fwd_first[nd] > n_bytes) goto short_;
    s->fwd_ids = take(data, n_bytes, pos, s->fwd_first[nd] * s->id_bytes, &sh);
    s->fwd_w = s->fwd_ids ? take(data, n_bytes, pos, s->fwd_first[nd] * 4, &sh) : NULL;
    s->post_off = s->fwd_w ? take(data, n_bytes, pos, (nt + 1) * 8, &sh) : NULL;
    if (!s->post_off) goto bad;
    if (s->post_off[nt] > n_bytes) goto short_;
    s->post = take(data, n_bytes, pos, s->post_off[nt], &sh);
    s->keep = s->post ? take(data, n_bytes, pos, nt, &sh) : NULL;
    s->head_off = s->keep ? take(data, n_bytes, pos, (nt + 1) * 8, &sh) : NULL;
    if (!s->head_off) goto bad;
    if (s->head_off[nt] > n_bytes) goto short_;
    s->head = take(data, n_bytes, pos, s->head_off[nt], &sh);
    if (!s->head) goto bad;
    if (validate(s, &what)) {
        silt_spseg_free(s);
        silt_err(err, "sparse index snapshot is corrupt (%s of a segment)", what);
        return NULL;
    }
    if (silt_spseg_derive_fwd_q(s)) goto bad;
    return s;
short_:
    sh = 1;
bad:
    silt_spseg_free(s);
    if (sh) silt_err(err, "sparse index snapshot is truncated (a segment ends early)");
    else silt_err(err, "out of memory reading a sparse index segment");
    return NULL;
}
