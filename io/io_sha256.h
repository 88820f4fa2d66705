/* io_sha256.h — SHA-256 (FIPS 180-4), streaming and one-shot, plus a whole-file digest.
 *
 *     // given: const void *buf; size_t n;
 *     io_sha256 h; io_sha256_init(&h);
 *     io_sha256_update(&h, buf, n);  ...
 *     uint8_t d[32]; io_sha256_final(&h, d);
 *     char hex[65]; io_sha256_hex(d, hex);   // "ba7816bf..." for "abc"
 */
#ifndef IO_SHA256_H
#define IO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IO_SHA256_SIZE 32

typedef struct io_sha256 {
    uint32_t state[8];
    uint64_t n_bytes;  /* message length so far */
    uint8_t block[64]; /* pending bytes */
    size_t n_block;
} io_sha256;

/* Starts a new digest. */
void io_sha256_init(io_sha256 *h);
/* Adds n bytes (data may be NULL when n is 0). */
void io_sha256_update(io_sha256 *h, const void *data, size_t n);
/* Finishes: writes the 32-byte digest to out. h must be initialised again before reuse. */
void io_sha256_final(io_sha256 *h, uint8_t out[IO_SHA256_SIZE]);
/* One-shot digest of a buffer. */
void io_sha256_buf(const void *data, size_t n, uint8_t out[IO_SHA256_SIZE]);
/* Lower-case hex of a digest into hex (65 bytes with the terminating NUL). */
void io_sha256_hex(const uint8_t d[IO_SHA256_SIZE], char hex[2 * IO_SHA256_SIZE + 1]);
/* Digest of a file's bytes. -1 with err (WB_E_IO, naming the file) when it cannot be read. */
int io_sha256_file(const char *path, uint8_t out[IO_SHA256_SIZE], wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
