/* models.h: named text encoders for every sqlext module (silt_embed, silt_dense model=,
 * silt_sparse model=, silt_join model=, silt_chunks).
 *
 *   silt_encoder *enc;
 *   char *err = NULL;
 *   if (silt_model_acquire(db, "minilm", &enc, &err) != SQLITE_OK) { ... err, sqlite3_free }
 *   ... enc->dim, enc->kind, silt_embed_texts(enc, ...) from core/embed.h ...
 *   silt_model_release(enc);
 *
 * Names resolve through the table main.silt_model_registry of db (filled by
 * silt_model_register), except "default", which is always the USE-Lite model shipped with
 * silt (found in $SILT_DEFAULT_MODEL, else <dir of silt.so>/models/use-lite, else the build
 * tree's build/models/use-lite). Loaded encoders live in one process-wide cache keyed by
 * what was loaded (the files' sha256 and the options; the default model by its directory),
 * so every connection and thread of the process shares one copy of the weights, even when
 * several databases register the same files; an encoder is immutable and thread-safe.
 * The cache keeps a few released models loaded (SILT_MODEL_CACHE_IDLE) so that the next
 * statement does not reload them.
 *
 * Storage (created by the first silt_model_register of a database):
 *   silt_model_registry(name PRIMARY KEY, path, layout 'dir'|'file', arch, kind, dim,
 *                       max_tokens, sha256, options, imported, created_at)
 *   silt_model_files(name, file, chunk_no, data)   model files copied in by silt_model_import,
 *                                                  in 1 MiB chunks
 * The eponymous virtual table silt_models lists the default model plus the registry.
 *
 * What is a model's set of files (hashed by register, copied by import): a GGUF model is its
 * one file; a directory model is every regular file in it and in its subdirectories (two
 * levels), except hidden names, the weights of other frameworks (*.bin, *.h5, *.msgpack,
 * *.ot, *.onnx, *.pt, *.pth, *.ckpt, *.pb, *.tflite) and *.md documentation. Its sha256
 * is the sha256 of the text `sha256sum` prints for those files, sorted by relative path
 * ("<hex>  <relpath>\n" each).
 * Imported files are written once per machine to $TMPDIR/silt-<uid>/<sha256>/ (private to
 * the user) when first needed, because the loaders read paths. */
#ifndef SILT_MODELS_H
#define SILT_MODELS_H

#include "core/encoder.h"
#include "sqlext/sqlite.h"

/* Released models kept loaded, least recently used evicted first. */
#define SILT_MODEL_CACHE_IDLE 4

/* Sets *out to the encoder named name in db ("default" or NULL: the default model), loading
 * it on first use in the process. Returns SQLITE_OK, or an error code with *err set by
 * sqlite3_mprintf (caller sqlite3_free's it; NULL only for SQLITE_NOMEM): unknown name,
 * files gone, invalid model. Every successful acquire must be paired with one
 * silt_model_release. Any thread may call it with its own connection; the first load of a
 * model takes tens to hundreds of milliseconds, later acquires a few microseconds (keep the
 * handle for the life of a table or statement rather than acquiring per row). */
int silt_model_acquire(sqlite3 *db, const char *name, silt_encoder **out, char **err);

/* Gives back an encoder from silt_model_acquire (NULL is allowed). */
void silt_model_release(silt_encoder *enc);

/* Takes one more reference on an acquired encoder (to hand a copy to another owner); it
 * needs its own silt_model_release. */
void silt_model_retain(silt_encoder *enc);

/* "dense" or "sparse", for messages and the silt_models table. */
const char *silt_model_kind_name(const silt_encoder *enc);

/* Makes enc available to every connection of the process under name, taking ownership of
 * it (it is never freed). For applications that bring their own encoder, and for tests
 * (toy dense or sparse encoders). A provided name shadows a registry entry of the same name;
 * 'default' and names already provided are refused. SQLITE_OK or an error with *err. */
int silt_model_provide(const char *name, silt_encoder *enc, char **err);

/* Frees released models until at most keep_idle stay loaded (tests; memory pressure). */
void silt_model_cache_trim(int keep_idle);

/* Number of times the process loaded a model from files (cache misses), for tests. */
long long silt_model_cache_loads(void);

/* For silt_model_register: loads the model at path (options a JSON object text or NULL)
 * through the cache under the key silt_model_acquire will use for files with this sha256,
 * so the first statement after registration needs no reload. Same contract as acquire. */
int silt_model_acquire_path(const char *path, const char *sha256, const char *options,
                            silt_encoder **out, char **err);

/* Directory the default model is read from, into buf; 0 when found (a directory holding
 * model.json), else -1 with buf holding a message listing the places tried. */
int silt_model_default_dir(char *buf, size_t buf_bytes);

/* Registration of the models SQL surface on a connection (silt_register_models in
 * register.h calls each): model_registry.c, models_vtab.c, embed_funcs.c, chunks.c. */
int silt_register_model_registry(sqlite3 *db, char **err);
int silt_register_models_vtab(sqlite3 *db, char **err);
int silt_register_embed_funcs(sqlite3 *db, char **err);
int silt_register_chunks(sqlite3 *db, char **err);

#endif
