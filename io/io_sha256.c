/* io_sha256.c — SHA-256 after FIPS 180-4, section 6.2. */
#include "io/io_sha256.h"
#include "io/io_fs.h"

#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint32_t k_round[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress(uint32_t s[8], const uint8_t b[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s[0], bb = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      k_round[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = bb;
        bb = a;
        a = t1 + t2;
    }
    s[0] += a;
    s[1] += bb;
    s[2] += c;
    s[3] += d;
    s[4] += e;
    s[5] += f;
    s[6] += g;
    s[7] += h;
}

void io_sha256_init(io_sha256 *h)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(h->state, iv, sizeof iv);
    h->n_bytes = 0;
    h->n_block = 0;
}

void io_sha256_update(io_sha256 *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    h->n_bytes += n;
    if (h->n_block) {
        size_t take = 64 - h->n_block < n ? 64 - h->n_block : n;
        memcpy(h->block + h->n_block, p, take);
        h->n_block += take;
        p += take;
        n -= take;
        if (h->n_block < 64)
            return;
        compress(h->state, h->block);
        h->n_block = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        compress(h->state, p);
    if (n) {
        memcpy(h->block, p, n);
        h->n_block = n;
    }
}

void io_sha256_final(io_sha256 *h, uint8_t out[IO_SHA256_SIZE])
{
    uint64_t bits = h->n_bytes * 8;
    h->block[h->n_block++] = 0x80;
    if (h->n_block > 56) {
        memset(h->block + h->n_block, 0, 64 - h->n_block);
        compress(h->state, h->block);
        h->n_block = 0;
    }
    memset(h->block + h->n_block, 0, 56 - h->n_block);
    for (int i = 0; i < 8; i++)
        h->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(h->state, h->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h->state[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h->state[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h->state[i] >> 8);
        out[4 * i + 3] = (uint8_t)h->state[i];
    }
}

void io_sha256_buf(const void *data, size_t n, uint8_t out[IO_SHA256_SIZE])
{
    io_sha256 h;
    io_sha256_init(&h);
    io_sha256_update(&h, data, n);
    io_sha256_final(&h, out);
}

void io_sha256_hex(const uint8_t d[IO_SHA256_SIZE], char hex[2 * IO_SHA256_SIZE + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < IO_SHA256_SIZE; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * IO_SHA256_SIZE] = '\0';
}

int io_sha256_file(const char *path, uint8_t out[IO_SHA256_SIZE], wb_error *err)
{
    uint64_t size = 0, left;
    int fd = io_fs_open_input(path, 0, &size, err); /* regular files only: /dev/zero never ends */
    if (fd < 0)
        return -1;
    io_sha256 h;
    io_sha256_init(&h);
    uint8_t buf[1 << 16];
    long long n = 0;
    for (left = size; left > 0; left -= (uint64_t)n) {
        n = io_fs_read_full(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
        if (n <= 0)
            break;
        io_sha256_update(&h, buf, (size_t)n);
    }
    int e = errno;
    close(fd);
    if (n < 0)
        return wb_err(err, WB_E_IO, path, "cannot read: %s", strerror(e));
    if (left > 0)
        return wb_err(err, WB_E_IO, path, "file shrank while it was read (%llu of %llu bytes)",
                      (unsigned long long)(size - left), (unsigned long long)size);
    io_sha256_final(&h, out);
    return 0;
}
