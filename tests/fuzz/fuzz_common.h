/* fuzz_common.h — what every fuzz target shares: a per-process scratch directory for the
 * readers that take a path (DICOM, YAML, CSV, NPY, safetensors), so each input is written
 * to a file there and read back through the real entry point.
 *
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
 *         const char *p = fuzz_file("x.npy", data, size);   // NULL: cannot write, skip
 *         ...io_npy_read(p, ...)...
 *     }
 *
 * The directory is made once (mkdtemp under $TMPDIR, else /dev/shm, else /tmp) and removed at
 * exit together with the files named through fuzz_path(). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_[256];
static char fuzz_names_[8][64];
static int fuzz_n_names_;

static inline void fuzz_cleanup_(void)
{
    char p[512];
    for (int i = 0; i < fuzz_n_names_; i++) {
        snprintf(p, sizeof p, "%.255s/%.63s", fuzz_dir_, fuzz_names_[i]);
        if (remove(p) != 0) { /* a directory made by the target, or never written */
            rmdir(p);
        }
    }
    if (fuzz_dir_[0]) rmdir(fuzz_dir_);
}

/* The path of name inside the scratch directory (made on first use); NULL if it cannot be
 * made. The name is remembered so that it is removed at exit. */
static inline const char *fuzz_path(const char *name)
{
    static char p[512];
    if (!fuzz_dir_[0]) {
        const char *base = getenv("TMPDIR");
        struct stat st;
        if (!base || !*base) base = stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%.200s/wb-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_)) {
            fuzz_dir_[0] = '\0';
            return NULL;
        }
        atexit(fuzz_cleanup_);
    }
    int known = 0;
    for (int i = 0; i < fuzz_n_names_; i++) known |= !strcmp(fuzz_names_[i], name);
    if (!known && fuzz_n_names_ < 8) snprintf(fuzz_names_[fuzz_n_names_++], 64, "%s", name);
    snprintf(p, sizeof p, "%.255s/%.200s", fuzz_dir_, name);
    return p;
}

/* Writes data[0..size) to the file name in the scratch directory; returns its path or NULL. */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    const char *p = fuzz_path(name);
    if (!p) return NULL;
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok ? p : NULL;
}

#endif
