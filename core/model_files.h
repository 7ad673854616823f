/* model_files.h: which files make up a model on disk, and their combined sha256.
 *
 *   silt_model_files f;
 *   silt_model_files_list("/models/minilm", &f, &err);     f.rel = {"config.json", ...}
 *   silt_model_files_sha256("/models/minilm", &f, hex, &err);
 *
 * A GGUF (or any single-file) model is its one file: rel = {basename}, is_dir = 0, and its
 * sha256 is the file's own (as `sha256sum`). A directory model is every regular file in it
 * and in subdirectories down to SILT_MODEL_FILES_DEPTH levels, except hidden names, the
 * weight files of other frameworks (*.bin *.h5 *.msgpack *.ot *.onnx *.pt *.pth *.ckpt *.pb
 * *.tflite) and documentation (*.md, such as a model card README.md), sorted by relative
 * path; its sha256 is the sha256 of the lines "<file sha256 hex>  <relative path>\n" in that
 * order (what `sha256sum` prints for them). */
#ifndef SILT_MODEL_FILES_H
#define SILT_MODEL_FILES_H

#include <stddef.h>
#include <stdint.h>

#define SILT_MODEL_FILES_DEPTH 2
/* Most files a model directory may hold: a guard against registering "/" by mistake. */
#define SILT_MODEL_FILES_MAX 1000

typedef struct {
    char **rel;  /* n relative paths ('/'-separated), sorted bytewise; malloc'd */
    size_t n;
    int is_dir;  /* 1: path is a directory holding rel[]; 0: path is the file rel[0] */
} silt_model_files;

/* Lists the files of the model at path (a directory or a file). Fails when path does not
 * exist, holds no files, or holds more than SILT_MODEL_FILES_MAX. */
int silt_model_files_list(const char *path, silt_model_files *out, char **err);
void silt_model_files_free(silt_model_files *f);

/* Full path of file i: path itself for a single-file model, else path/rel[i]. malloc'd. */
char *silt_model_files_path(const char *path, const silt_model_files *f, size_t i);

/* The model's sha256 as defined above, reading every file. */
int silt_model_files_sha256(const char *path, const silt_model_files *f, char hex[65],
                            char **err);

/* Combines per-file hashes file_hex[i] of rel[i] (sorted) into the directory sha256. */
void silt_model_files_combine(const char *const *rel, const char (*file_hex)[65], size_t n,
                              char hex[65]);

/* 1 when rel is a safe relative path to write under a directory: not empty, not absolute,
 * no "." or ".." component, no empty component, no backslash. */
int silt_model_files_rel_ok(const char *rel);

#endif
