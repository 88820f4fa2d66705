/* cache.h — preprocessed images and features on disk, keyed by content and parameters.
 *
 *     // given: exp_pre_params params;
 *     exp_cache c; wb_error err;
 *     if (exp_cache_open(&c, "cache", &params, &err) != 0) ...;
 *     exp_pre_result r; int status;
 *     if (exp_cache_file(&c, "P0001/L_CC.dcm", &r, &status, &err) != 0) ...;  // hit or computed
 *     ... r.image, r.features ...; exp_pre_result_free(&r);
 *
 * Layout (docs/preprocess.md):
 *   DIR/WORKBENCH_CACHE                     marker: what the directory is (clear refuses others)
 *   DIR/<P>/params.txt                      the parameters (exp_pre_params_text) of set P
 *   DIR/<P>/<xx>/<sha256 of input>.wbpre    one entry; xx = first two hex digits
 * where P = first 16 hex digits of SHA-256(exp_pre_params_text), which includes
 * EXP_PRE_VERSION: a code or parameter change gives a new set and old entries are not read.
 * Entries are written to a temporary file and renamed (io_atomic_*), so processes filling the
 * same cache never see half an entry; each entry ends with the SHA-256 of its content, and a
 * damaged one (bad checksum, truncated, wrong key) is reported with a warning and recomputed.
 */
#ifndef EXP_CACHE_H
#define EXP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/data/preprocess.h"
#include "base/wb_error.h"

#define EXP_CACHE_FORMAT 1

typedef struct exp_cache {
    char dir[2048];
    char set_dir[2100];      /* dir/<P> */
    uint8_t params_hash[32];
    exp_pre_params params;
    size_t hits, misses, repaired; /* counters since exp_cache_open */
} exp_cache;

typedef enum {
    EXP_CACHE_HIT = 0,  /* read from the cache */
    EXP_CACHE_MISS,     /* not there: computed (and stored) */
    EXP_CACHE_DAMAGED   /* there but unusable: reported, recomputed and stored again */
} exp_cache_status;

/* Opens (creating it and the parameter set's directory when needed) the cache in dir for
 * params. Nothing to free. WB_E_WRITE when the directory cannot be created, WB_E_USAGE when dir
 * exists, is not empty and is not a workbench cache. */
int exp_cache_open(exp_cache *c, const char *dir, const exp_pre_params *params, wb_error *err);

/* The entry path for an input digest into buf (n bytes). */
void exp_cache_entry_path(const exp_cache *c, const uint8_t key[32], char *buf, size_t n);

/* Looks up the entry for key. *status: HIT (then *out owns a result), MISS, or DAMAGED (why
 * gets the reason, e.g. "checksum mismatch"; why may be NULL). Returns -1 only for errors that
 * are not about the entry itself (out of memory). */
int exp_cache_load(exp_cache *c, const uint8_t key[32], exp_pre_result *out, int *status,
                   char *why, size_t why_n, wb_error *err);

/* Stores r under key, atomically. WB_E_WRITE on failure (nothing half-written is left). */
int exp_cache_store(exp_cache *c, const uint8_t key[32], const exp_pre_result *r,
                    wb_error *err);

/* The cached result for the file at path (its bytes' SHA-256 is the key), computing it with
 * exp_pre_file and storing it on a miss or a damaged entry (a warning names the entry and the
 * reason). A failed store is a warning, not an error: the result is still returned. *status
 * (may be NULL) says which case it was. Errors are those of exp_pre_file. */
int exp_cache_file(exp_cache *c, const char *path, exp_pre_result *out, int *status,
                   wb_error *err);

typedef struct exp_cache_stats {
    size_t param_sets;  /* directories with a params.txt */
    size_t entries;     /* .wbpre files */
    size_t entry_bytes; /* their total size */
    size_t temp_files;  /* leftovers of interrupted writes (*.tmp.*) */
    size_t other_files; /* anything else (left alone by clear) */
} exp_cache_stats;

/* Counts what a cache directory holds. WB_E_USAGE when dir is not a workbench cache. */
int exp_cache_info(const char *dir, exp_cache_stats *st, wb_error *err);

/* Removes the entries, parameter files, temporary files, the marker and then-empty
 * directories; files the cache did not write are left in place and counted in *kept.
 * WB_E_USAGE when dir is not a workbench cache (nothing is removed). */
int exp_cache_clear(const char *dir, size_t *removed, size_t *kept, wb_error *err);

#endif
