/* encoder.c: silt_encoder_load picks the loader from what is at the path (see encoder.h):
 *
 *   directory with model.json + vocab.json  -> USE-Lite (tfjs graph model)   use_lite.h
 *   directory with config.json              -> Hugging Face model directory  bert.h
 *   file starting with the bytes "GGUF"     -> GGUF file                     bert.h
 *
 * Options are checked to be a JSON object here, once, so every loader can rely on it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bert.h"
#include "core/encoder.h"
#include "core/err.h"
#include "core/use_lite.h"

/* 1 when dir/name exists as a regular file. */
static int has_file(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* USE-Lite takes no options but "kind":"dense"; anything else is a mistake worth naming. */
static int check_use_lite_options(const char *path, const cJSON *opts, char **err) {
    for (const cJSON *it = opts ? opts->child : NULL; it; it = it->next) {
        if (strcmp(it->string, "kind") == 0 && cJSON_IsString(it) &&
            strcmp(it->valuestring, "dense") == 0)
            continue;
        if (strcmp(it->string, "kind") == 0)
            return silt_err(err, "%s is a USE-Lite model, which is dense only (option \"kind\" "
                                 "must be \"dense\")", path);
        return silt_err(err, "unknown option \"%s\" for the USE-Lite model at %s (it takes "
                             "none)", it->string, path);
    }
    return 0;
}

silt_encoder *silt_encoder_load(const char *path, const char *options_json, char **err) {
    if (!path || !*path) {
        silt_err(err, "model path is empty (expected a model directory or a GGUF file)");
        return NULL;
    }
    cJSON *opts = NULL;
    if (options_json && *options_json) {
        opts = cJSON_Parse(options_json);
        if (!opts || !cJSON_IsObject(opts)) {
            cJSON_Delete(opts);
            silt_err(err, "model options: expected a JSON object such as '{\"kind\":\"sparse\"}', "
                          "got '%.60s'", options_json);
            return NULL;
        }
    }
    silt_encoder *enc = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        silt_err(err, "model path %s: %s (expected a model directory or a GGUF file)", path,
                 strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        if (has_file(path, "model.json") && has_file(path, "vocab.json")) {
            if (check_use_lite_options(path, opts, err) == 0) enc = silt_uselite_load(path, err);
        } else if (has_file(path, "config.json")) {
            enc = silt_hf_load(path, options_json, err);
        } else {
            silt_err(err, "directory %s is not a model: expected config.json (Hugging Face) or "
                          "model.json + vocab.json (USE-Lite) in it", path);
        }
    } else if (S_ISREG(st.st_mode)) {
        unsigned char magic[4] = {0};
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(magic, 1, 4, f) : 0;
        if (f) fclose(f);
        if (!f) {
            silt_err(err, "cannot open model file %s: %s", path, strerror(errno));
        } else if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
            enc = silt_gguf_load(path, options_json, err);
        } else {
            silt_err(err, "%s is not a GGUF file (it does not start with \"GGUF\"); expected a "
                          "GGUF file or a model directory", path);
        }
    } else {
        silt_err(err, "model path %s is neither a directory nor a regular file", path);
    }
    cJSON_Delete(opts);
    return enc;
}

void silt_encoder_free(silt_encoder *enc) {
    if (enc && enc->ops && enc->ops->destroy) enc->ops->destroy(enc);
}
