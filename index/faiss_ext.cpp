// faiss_ext.cpp: what FAISS 1.7.3's C API cannot do, behind the extern "C" functions of
// faiss_bridge.h: filtered search (SearchParameters + IDSelectorBitmap), per-query efSearch
// and nprobe, explicit OpenMP thread counts, and a look at the index's structure.
//
// The FaissIndex handles of the C API are faiss::Index objects, so this file casts them
// back. Every entry point catches every exception: nothing thrown by FAISS or by the
// standard library may unwind into C.
#include "index/faiss_bridge.h"

#include "core/hugepages.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <typeinfo>
#include <vector>

// FAISS headers are not -Wextra clean; their warnings are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/distances.h>
#pragma GCC diagnostic pop

namespace {

// Sets *err to a malloc'd copy of msg (the C side frees it with free()). FAISS messages
// start with "Error in <function> at <file>:<line>: "; only the part after it is kept.
int set_err(char **err, const char *msg) {
    if (!err) return -1;
    std::free(*err);
    const char *m = msg ? msg : "unknown FAISS error";
    const char *at = std::strstr(m, " at ");
    if (std::strncmp(m, "Error in ", 9) == 0 && at) {
        const char *colon = std::strstr(at, ": ");
        if (colon) m = colon + 2;
    }
    size_t n = std::strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ')) n--;
    char *s = static_cast<char *>(std::malloc(n + 1));
    if (s) {
        std::memcpy(s, m, n);
        s[n] = 0;
    }
    *err = s;
    return -1;
}

// Runs OpenMP parallel regions of the calling thread on n threads while in scope (the
// thread-count ICV is per thread, so other threads of the process are not affected).
struct ThreadScope {
    int prev;
    explicit ThreadScope(int n) : prev(omp_get_max_threads()) { omp_set_num_threads(n > 0 ? n : 1); }
    ~ThreadScope() { omp_set_num_threads(prev); }
};

const faiss::Index *cidx(const FaissIndex *p) { return reinterpret_cast<const faiss::Index *>(p); }
faiss::Index *midx(FaissIndex *p) { return reinterpret_cast<faiss::Index *>(p); }

// The index under pre-transforms (PCA, OPQ, rotations), which is what decides the kind.
const faiss::Index *core_of(const faiss::Index *ix) {
    while (auto pt = dynamic_cast<const faiss::IndexPreTransform *>(ix)) ix = pt->index;
    return ix;
}

silt_faiss_kind kind_of(const faiss::Index *ix) {
    ix = core_of(ix);
    if (dynamic_cast<const faiss::IndexFlat *>(ix)) return SILT_FAISS_FLAT;
    if (dynamic_cast<const faiss::IndexHNSW *>(ix)) return SILT_FAISS_HNSW;
    if (dynamic_cast<const faiss::IndexIVF *>(ix)) return SILT_FAISS_IVF;
    return SILT_FAISS_OTHER;
}

// Whether `ix` (not looking through pre-transforms) applies SearchParameters::sel.
bool supports_selector(const faiss::Index *ix) {
    if (dynamic_cast<const faiss::IndexFlat *>(ix)) return true;
    if (dynamic_cast<const faiss::IndexIVF *>(ix)) return true;
    if (dynamic_cast<const faiss::IndexScalarQuantizer *>(ix)) return true;
    if (auto h = dynamic_cast<const faiss::IndexHNSW *>(ix)) return h->storage != nullptr;
    return false;
}

// Search parameters for one query batch, built for the core index and wrapped in one
// SearchParametersPreTransform per pre-transform level (each level forwards its
// index_params to the index below it).
struct Params {
    faiss::SearchParametersHNSW hnsw;
    faiss::SearchParametersIVF ivf;
    faiss::SearchParameters plain;
    faiss::SearchParametersPreTransform pt[4];
    const faiss::SearchParameters *top = nullptr;
};

// Fills prm for searching `ix` (the index actually searched); returns false when the
// selector cannot be applied there.
bool build_params(const faiss::Index *ix, const silt_faiss_search_params *p,
                  faiss::IDSelector *sel, Params &prm) {
    int depth = 0;
    const faiss::Index *c = ix;
    while (auto pt = dynamic_cast<const faiss::IndexPreTransform *>(c)) {
        if (depth == 4) return false;
        depth++;
        c = pt->index;
    }
    if (sel && !supports_selector(c)) return false;
    const faiss::SearchParameters *inner;
    if (auto h = dynamic_cast<const faiss::IndexHNSW *>(c)) {
        prm.hnsw.efSearch = p->ef_search > 0 ? p->ef_search : h->hnsw.efSearch;
        prm.hnsw.sel = sel;
        inner = &prm.hnsw;
    } else if (auto iv = dynamic_cast<const faiss::IndexIVF *>(c)) {
        size_t nprobe = p->nprobe > 0 ? (size_t)p->nprobe : iv->nprobe;
        if (p->exhaustive) nprobe = iv->nlist;
        prm.ivf.nprobe = std::min(std::max<size_t>(nprobe, 1), iv->nlist);
        prm.ivf.max_codes = p->exhaustive ? 0 : iv->max_codes;
        prm.ivf.sel = sel;
        inner = &prm.ivf;
    } else if (sel) {
        prm.plain.sel = sel;
        inner = &prm.plain;
    } else {
        inner = nullptr; // plain search: some indexes reject any params object
    }
    // Wrap from the innermost pre-transform outwards.
    for (int i = depth - 1; i >= 0; i--) {
        prm.pt[i].index_params = const_cast<faiss::SearchParameters *>(inner);
        prm.pt[i].sel = nullptr;
        inner = &prm.pt[i];
    }
    prm.top = inner;
    return true;
}

// Ids of a slice [off, off + n) of a flat index seen from inside the slice.
struct SliceSelector : faiss::IDSelector {
    const faiss::IDSelector *base;
    idx_t off;
    SliceSelector(const faiss::IDSelector *b, idx_t o) : base(b), off(o) {}
    bool is_member(idx_t id) const override { return base->is_member(id + off); }
};

// Below this many stored floats a flat scan is not worth splitting across threads.
const size_t SPLIT_MIN_FLOATS = size_t(1) << 22;

// One query against a flat index, the scan split into slices scanned by n_threads
// threads, each keeping its own k best, merged at the end. A flat scan of 100k x 384
// floats reads 150 MB: one core does not reach the memory bandwidth two do. Returns
// false when the split does not apply (the caller searches normally).
bool split_flat_search(const faiss::Index *ix, const float *x, int64_t k, faiss::IDSelector *sel,
                       int n_threads, float *D, int64_t *I) {
    auto flat = dynamic_cast<const faiss::IndexFlat *>(ix);
    if (!flat || n_threads < 2 || (size_t)flat->ntotal * flat->d < SPLIT_MIN_FLOATS) return false;
    bool ip = flat->metric_type == faiss::METRIC_INNER_PRODUCT;
    if (!ip && flat->metric_type != faiss::METRIC_L2) return false;
    const idx_t n = flat->ntotal, step = (n + n_threads - 1) / n_threads;
    const float *xb = flat->get_xb();
    std::vector<float> dist((size_t)n_threads * k);
    std::vector<int64_t> ids((size_t)n_threads * k, -1);
#pragma omp parallel for num_threads(n_threads) schedule(static, 1)
    for (int t = 0; t < n_threads; t++) {
        idx_t lo = t * step, hi = std::min(n, lo + step);
        if (lo >= hi) continue;
        SliceSelector slice(sel, lo);
        const faiss::IDSelector *s = sel ? &slice : nullptr;
        float *dt = dist.data() + (size_t)t * k;
        int64_t *it = ids.data() + (size_t)t * k;
        if (ip) faiss::knn_inner_product(x, xb + (size_t)lo * flat->d, flat->d, 1, hi - lo, k, dt, it, s);
        else faiss::knn_L2sqr(x, xb + (size_t)lo * flat->d, flat->d, 1, hi - lo, k, dt, it, nullptr, s);
        for (int64_t j = 0; j < k; j++)
            if (it[j] >= 0) it[j] += lo;
    }
    // Merge the sorted per-slice lists (few slices: pick the best head each time).
    std::vector<int64_t> head(n_threads, 0);
    for (int64_t j = 0; j < k; j++) {
        int best = -1;
        for (int t = 0; t < n_threads; t++) {
            int64_t h = head[t];
            if (h >= k || ids[(size_t)t * k + h] < 0) continue;
            float d = dist[(size_t)t * k + h];
            if (best < 0 || (ip ? d > dist[(size_t)best * k + head[best]]
                                : d < dist[(size_t)best * k + head[best]]))
                best = t;
        }
        if (best < 0) {
            D[j] = ip ? -std::numeric_limits<float>::max() : std::numeric_limits<float>::max();
            I[j] = -1;
            continue;
        }
        D[j] = dist[(size_t)best * k + head[best]];
        I[j] = ids[(size_t)best * k + head[best]];
        head[best]++;
    }
    return true;
}

int64_t clusters_needed(const faiss::Index *ix) {
    int64_t c = 0;
    if (auto pt = dynamic_cast<const faiss::IndexPreTransform *>(ix)) {
        for (auto vt : pt->chain) {
            if (auto pca = dynamic_cast<const faiss::PCAMatrix *>(vt)) {
                // PCA needs about as many points as input dimensions; count them as
                // "clusters" / 39 so that 39 * c >= d_in.
                c = std::max<int64_t>(c, (pca->d_in + 38) / 39);
            } else if (dynamic_cast<const faiss::OPQMatrix *>(vt)) {
                c = std::max<int64_t>(c, 256);
            }
        }
        return std::max(c, clusters_needed(pt->index));
    }
    if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(ix)) {
        c = (int64_t)ivf->nlist;
        if (auto ivpq = dynamic_cast<const faiss::IndexIVFPQ *>(ix))
            c = std::max<int64_t>(c, (int64_t)ivpq->pq.ksub);
        return c;
    }
    if (auto pq = dynamic_cast<const faiss::IndexPQ *>(ix)) return (int64_t)pq->pq.ksub;
    if (auto h = dynamic_cast<const faiss::IndexHNSW *>(ix))
        return h->storage ? clusters_needed(h->storage) : 0;
    if (!ix->is_trained) return 26; // unknown trainable index: about a thousand points
    return 0;
}

// Large arrays of an index live on transparent huge pages where the kernel has them: a
// search reads a few hundred entries scattered over the whole storage, which costs several
// times more on 4 KiB pages on a VM (core/hugepages.h has the numbers). The advice must come
// before the storage is first written, so a new array is reserved, advised, then filled.
template <class T> void reserve_huge(std::vector<T> &v, size_t n) {
    v.reserve(n);
    if (v.empty()) silt_advise_huge(v.data(), v.capacity() * sizeof(T));
}

// Moves an array that FAISS filled (on 4 KiB pages) into storage advised as above. Below two
// huge pages, or when memory for the copy is short, the array stays where it is.
template <class T> void rehome_huge(std::vector<T> &v) {
    if (v.size() * sizeof(T) < 2 * SILT_HUGE_PAGE || !silt_huge_move_affordable(v.size() * sizeof(T))) return;
    try {
        std::vector<T> fresh;
        reserve_huge(fresh, v.size());
        fresh.insert(fresh.end(), v.begin(), v.end());
        v.swap(fresh);
    } catch (const std::bad_alloc &) {
    }
}

// The arrays a search walks: flat codes (vectors, or their codes) and HNSW graphs, looking
// through pre-transforms and into an IVF's quantizer. IVF lists are many small arrays,
// each below a huge page, and are left alone.
void rehome_index(faiss::Index *ix) {
    if (!ix) return;
    if (auto pt = dynamic_cast<faiss::IndexPreTransform *>(ix)) return rehome_index(pt->index);
    if (auto h = dynamic_cast<faiss::IndexHNSW *>(ix)) {
        rehome_huge(h->hnsw.neighbors);
        rehome_huge(h->hnsw.offsets);
        return rehome_index(h->storage);
    }
    if (auto ivf = dynamic_cast<faiss::IndexIVF *>(ix)) return rehome_index(ivf->quantizer);
    if (auto fc = dynamic_cast<faiss::IndexFlatCodes *>(ix)) rehome_huge(fc->codes);
}

// Appends n vectors to a plain flat index's storage, as IndexFlat::add does, but without
// its costs on this kind of machine: add() resizes the codes vector (zero-filling the new
// bytes, then copying over them) and lets it grow by doubling, each time into fresh memory.
// On a VM, first touching memory is what costs (page faults, zeroing): bulk-loading
// 100k x 384 floats spent more time there than in SQLite. Here the storage grows 16-fold
// when full while below 256 MB (reserved address space costs nothing until touched, and
// a load regrows a few times instead of a dozen), 2-fold above (no gigabytes reserved that
// a strict-overcommit system would charge), smaller steps when the system refuses; it is
// advised to use huge pages (a hint, ignored where unsupported), and the new vectors are
// copied once. Returns false when ix is not a plain IndexFlat (the
// caller then uses add()).
bool flat_append(faiss::Index *ix, int64_t n, const float *x) {
    // Exactly these classes: a subclass may keep more state than codes (IndexFlat1D's
    // permutation, for one).
    const std::type_info &t = typeid(*ix);
    if (t != typeid(faiss::IndexFlat) && t != typeid(faiss::IndexFlatL2) &&
        t != typeid(faiss::IndexFlatIP))
        return false;
    auto flat = static_cast<faiss::IndexFlat *>(ix);
    if (flat->code_size != sizeof(float) * (size_t)flat->d || n <= 0) return false;
    std::vector<uint8_t> &codes = flat->codes;
    const uint8_t *src = reinterpret_cast<const uint8_t *>(x);
    size_t add_bytes = (size_t)n * flat->code_size, need = codes.size() + add_bytes;
    if (need > codes.capacity()) {
        std::vector<uint8_t> grown;
        for (size_t factor = need < (size_t(256) << 20) ? 16 : 2;; factor /= 2) {
            try {
                reserve_huge(grown, need <= SIZE_MAX / factor ? need * factor : need);
                break;
            } catch (const std::bad_alloc &) {
                if (factor == 1) throw;
            }
        }
        grown.insert(grown.end(), codes.begin(), codes.end());
        codes.swap(grown);
    }
    codes.insert(codes.end(), src, src + add_bytes);
    flat->ntotal += n;
    return true;
}

// Walks pre-transforms and IVF quantizers down to the HNSW graphs; returns how many it set.
int set_ef_construction(faiss::Index *ix, int ef) {
    if (auto pt = dynamic_cast<faiss::IndexPreTransform *>(ix)) return set_ef_construction(pt->index, ef);
    if (auto h = dynamic_cast<faiss::IndexHNSW *>(ix)) {
        h->hnsw.efConstruction = ef;
        return 1;
    }
    if (auto ivf = dynamic_cast<faiss::IndexIVF *>(ix))
        return ivf->quantizer ? set_ef_construction(ivf->quantizer, ef) : 0;
    return 0;
}

// The first HNSW graph found the same way, or nullptr.
const faiss::IndexHNSW *first_hnsw(const faiss::Index *ix) {
    if (auto pt = dynamic_cast<const faiss::IndexPreTransform *>(ix)) return first_hnsw(pt->index);
    if (auto h = dynamic_cast<const faiss::IndexHNSW *>(ix)) return h;
    if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(ix))
        return ivf->quantizer ? first_hnsw(ivf->quantizer) : nullptr;
    return nullptr;
}

} // namespace

extern "C" {

int silt_faiss_search(const FaissIndex *index, int64_t nq, const float *x, int64_t k,
                      const silt_faiss_search_params *p, float *D, int64_t *I, char **err) {
    try {
        const faiss::Index *ix = cidx(index);
        const faiss::Index *target = ix;
        if (p->exhaustive) {
            // HNSW: a brute-force pass over its storage gives the exact answer (storage
            // ids are the HNSW ids). Looking through pre-transforms would skip them, so
            // only a bare HNSW index takes this path.
            if (auto h = dynamic_cast<const faiss::IndexHNSW *>(ix))
                if (h->storage) target = h->storage;
        }
        faiss::IDSelectorBitmap bitmap_sel(p->bitmap_bytes, p->bitmap);
        faiss::IDSelector *sel = p->bitmap ? &bitmap_sel : nullptr;
        Params prm;
        if (!build_params(target, p, sel, prm)) return SILT_FAISS_NO_SELECTOR;
        ThreadScope threads(p->n_threads);
        if (nq == 1 && split_flat_search(target, x, k, sel, p->n_threads, D, I)) return 0;
        if (auto h = dynamic_cast<const faiss::IndexHNSW *>(target)) {
            // FAISS 1.7.3 sizes the candidate queue from the index's own efSearch, not the
            // one in SearchParametersHNSW: set it on the index too. The index belongs to
            // one connection, whose calls SQLite serialises.
            const_cast<faiss::IndexHNSW *>(h)->hnsw.efSearch = prm.hnsw.efSearch;
        }
        target->search(nq, x, k, D, I, prm.top);
        return 0;
    } catch (const std::exception &e) {
        return set_err(err, e.what());
    } catch (...) {
        return set_err(err, "FAISS search failed");
    }
}

int silt_faiss_add(FaissIndex *index, int64_t n, const float *x, int n_threads, char **err) {
    try {
        if (flat_append(midx(index), n, x)) return 0;
        ThreadScope threads(n_threads);
        midx(index)->add(n, x);
        return 0;
    } catch (const std::exception &e) {
        return set_err(err, e.what());
    } catch (...) {
        return set_err(err, "FAISS add failed");
    }
}

int silt_faiss_train(FaissIndex *index, int64_t n, const float *x, int n_threads, char **err) {
    try {
        ThreadScope threads(n_threads);
        midx(index)->train(n, x);
        return 0;
    } catch (const std::exception &e) {
        return set_err(err, e.what());
    } catch (...) {
        return set_err(err, "FAISS train failed");
    }
}

int64_t silt_faiss_train_min(const FaissIndex *index) {
    try {
        const faiss::Index *ix = cidx(index);
        if (ix->is_trained) return 0;
        int64_t c = clusters_needed(ix);
        return std::max<int64_t>(1, 39 * c);
    } catch (...) {
        return 1000;
    }
}

int silt_faiss_exact_storage(const FaissIndex *index) {
    try {
        const faiss::Index *ix = cidx(index);
        if (dynamic_cast<const faiss::IndexFlat *>(ix)) return 1;
        if (auto h = dynamic_cast<const faiss::IndexHNSW *>(ix))
            return h->storage && dynamic_cast<const faiss::IndexFlat *>(h->storage) ? 1 : 0;
        return 0; // IVF-Flat would need a direct map; lossy codes never compare equal
    } catch (...) {
        return 0;
    }
}

silt_faiss_kind silt_faiss_kind_of(const FaissIndex *index) {
    try {
        return kind_of(cidx(index));
    } catch (...) {
        return SILT_FAISS_OTHER;
    }
}

int silt_faiss_set_ef_construction(FaissIndex *index, int ef_construction) {
    try {
        return set_ef_construction(midx(index), ef_construction);
    } catch (...) {
        return 0;
    }
}

int silt_faiss_get_ef_construction(const FaissIndex *index) {
    try {
        const faiss::IndexHNSW *h = first_hnsw(cidx(index));
        return h ? h->hnsw.efConstruction : 0;
    } catch (...) {
        return 0;
    }
}

void silt_faiss_prefer_huge_pages(FaissIndex *index) {
    try {
        rehome_index(midx(index));
    } catch (...) {
        // Only allocation can fail here, and the arrays stay usable where they were.
    }
}

int silt_faiss_reconstruct(const FaissIndex *index, int64_t key, float *out, char **err) {
    try {
        cidx(index)->reconstruct(key, out);
        return 0;
    } catch (const std::exception &e) {
        return set_err(err, e.what());
    } catch (...) {
        return set_err(err, "FAISS reconstruct failed");
    }
}

} // extern "C"
