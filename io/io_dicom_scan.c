/* io_dicom_scan.c — see io_dicom_scan.h. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* pread */
#endif
#include "io/io_dicom_scan.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define UNDEF 0xFFFFFFFFu
#define BUF 65536

/* The data set as a byte stream: the file from an offset on, or its inflated content. */
typedef struct {
    int fd;
    uint64_t fsize, raw;   /* file size; file offset of the next raw read */
    unsigned char buf[BUF];
    size_t bpos, blen;
    uint64_t pos;          /* stream offset of buf[bpos] */
    int deflate, zdone;
    z_stream zs;
    unsigned char in[BUF];
    int over;              /* inflated past IO_DICOM_MAX_INFLATED */
} stream;

static int fill(stream *s)
{
    s->bpos = s->blen = 0;
    if (!s->deflate) {
        if (s->raw >= s->fsize)
            return 0;
        size_t want = s->fsize - s->raw < BUF ? (size_t)(s->fsize - s->raw) : BUF;
        ssize_t k;
        do
            k = pread(s->fd, s->buf, want, (off_t)s->raw);
        while (k < 0 && errno == EINTR);
        if (k <= 0)
            return 0;
        s->raw += (uint64_t)k;
        s->blen = (size_t)k;
        return 1;
    }
    while (!s->zdone && s->blen == 0) {
        if (s->pos >= IO_DICOM_MAX_INFLATED) {
            s->over = 1;
            return 0;
        }
        if (s->zs.avail_in == 0 && s->raw < s->fsize) {
            size_t want = s->fsize - s->raw < BUF ? (size_t)(s->fsize - s->raw) : BUF;
            ssize_t k;
            do
                k = pread(s->fd, s->in, want, (off_t)s->raw);
            while (k < 0 && errno == EINTR);
            if (k <= 0)
                return 0;
            s->raw += (uint64_t)k;
            s->zs.next_in = s->in;
            s->zs.avail_in = (uInt)k;
        }
        s->zs.next_out = s->buf;
        s->zs.avail_out = BUF;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        s->blen = BUF - s->zs.avail_out;
        if (rc == Z_STREAM_END)
            s->zdone = 1;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            s->zdone = 1; /* corrupt: DCMTK says so */
        else if (s->blen == 0 && s->zs.avail_in == 0 && s->raw >= s->fsize)
            s->zdone = 1; /* truncated */
    }
    return s->blen > 0;
}

/* Copies n bytes (n <= 12) to out; 0 at the end of the stream. */
static int get(stream *s, unsigned char *out, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (s->bpos == s->blen && !fill(s))
            return 0;
        out[k] = s->buf[s->bpos++];
        s->pos++;
    }
    return 1;
}

/* Skips n bytes; 0 if the stream ends first. */
static int skip(stream *s, uint64_t n)
{
    size_t in_buf = s->blen - s->bpos;
    if (n <= in_buf) {
        s->bpos += (size_t)n;
        s->pos += n;
        return 1;
    }
    s->bpos = s->blen;
    s->pos += in_buf;
    n -= in_buf;
    if (!s->deflate) {
        if (n > s->fsize - s->raw)
            return 0;
        s->raw += n;
        s->pos += n;
        return 1;
    }
    while (n > 0) {
        if (!fill(s))
            return 0;
        size_t k = s->blen < n ? s->blen : (size_t)n;
        s->bpos = k;
        s->pos += k;
        n -= k;
    }
    return 1;
}

static unsigned rd16(const unsigned char *p, int be)
{
    return be ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const unsigned char *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* VRs with a 2-byte reserved field and a 4-byte length in explicit VR; -1 for unknown. */
static int vr_long(const unsigned char *v)
{
    static const char *const lng[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV",
                                      "UC", "UN", "UR", "UT", "UV"};
    static const char *const shrt[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL",
                                       "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM",
                                       "UI", "UL", "US"};
    for (size_t i = 0; i < sizeof lng / sizeof lng[0]; i++)
        if (v[0] == lng[i][0] && v[1] == lng[i][1])
            return 1;
    for (size_t i = 0; i < sizeof shrt / sizeof shrt[0]; i++)
        if (v[0] == shrt[i][0] && v[1] == shrt[i][1])
            return 0;
    return -1;
}

enum { C_SQ, C_PIXSEQ, C_ITEM };

typedef struct {
    int kind;
    uint64_t end;     /* stream offset, or UINT64_MAX for undefined length */
    int implicit, be; /* encoding of the elements inside (items) */
} container;

/* Reads the meta information (group 0002, explicit VR little endian) from offset `at` of the
 * file; fills the transfer syntax UID and returns the offset where the data set starts. */
static uint64_t read_meta(int fd, uint64_t size, uint64_t at, char *ts, size_t ts_n)
{
    ts[0] = '\0';
    for (int guard = 0; guard < 1000 && at + 8 <= size; guard++) {
        unsigned char h[12];
        if (pread(fd, h, 8, (off_t)at) != 8)
            break;
        if (rd16(h, 0) != 0x0002)
            break;
        unsigned el = rd16(h + 2, 0);
        uint64_t len, hl = 8;
        int lv = vr_long(h + 4);
        if (lv < 0)
            break;
        if (lv) {
            if (at + 12 > size || pread(fd, h + 8, 4, (off_t)(at + 8)) != 4)
                break;
            len = rd32(h + 8, 0);
            hl = 12;
        } else {
            len = rd16(h + 6, 0);
        }
        if (len == UNDEF || at + hl + len > size)
            break;
        if (el == 0x0010 && len < ts_n) {
            if (pread(fd, ts, (size_t)len, (off_t)(at + hl)) != (ssize_t)len)
                break;
            ts[len] = '\0';
            for (size_t k = len; k > 0 && (ts[k - 1] == '\0' || ts[k - 1] == ' '); k--)
                ts[k - 1] = '\0';
        }
        at += hl + len;
    }
    return at;
}

int io_dicom_scan(int fd, uint64_t size, int max_depth, io_dicom_is_sq_fn is_sq,
                  const char *path, wb_error *err)
{
    stream *s = calloc(1, sizeof *s); /* 128 kB: not on the stack */
    if (!s)
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    s->fd = fd;
    s->fsize = size;

    unsigned char pre[132];
    uint64_t start = 0;
    char ts[72];
    ts[0] = '\0';
    if (size >= 132 && pread(fd, pre, 132, 0) == 132 && memcmp(pre + 128, "DICM", 4) == 0)
        start = read_meta(fd, size, 132, ts, sizeof ts);
    else if (size >= 8 && pread(fd, pre, 8, 0) == 8 && rd16(pre, 0) == 0x0002)
        start = read_meta(fd, size, 0, ts, sizeof ts);

    int implicit = 0, be = 0;
    if (!strcmp(ts, "1.2.840.10008.1.2"))
        implicit = 1;
    else if (!strcmp(ts, "1.2.840.10008.1.2.2"))
        be = 1;
    else if (!strcmp(ts, "1.2.840.10008.1.2.1.99"))
        s->deflate = 1;
    else if (!ts[0]) {
        /* no meta information: DCMTK guesses from the first element */
        unsigned char h[8];
        if (size >= start + 8 && pread(fd, h, 8, (off_t)start) == 8)
            implicit = vr_long(h + 4) < 0;
    }
    s->raw = start;
    if (!s->deflate)
        s->pos = start; /* stream offsets are file offsets */
    else if (inflateInit2(&s->zs, -15) != Z_OK) {
        free(s);
        return 0; /* nothing to scan with: DCMTK inflates it and reports */
    }

    container st[IO_DICOM_MAX_DEPTH * 2 + 8];
    const int cap = (int)(sizeof st / sizeof st[0]);
    if (max_depth > IO_DICOM_MAX_DEPTH)
        max_depth = IO_DICOM_MAX_DEPTH;
    int sp = 0, depth = 0, rc = 0;
    for (;;) {
        /* close the containers whose defined length is used up (an overrun closes too) */
        while (sp > 0 && st[sp - 1].end != UINT64_MAX && s->pos >= st[sp - 1].end) {
            depth -= st[sp - 1].kind == C_SQ;
            sp--;
        }
        const container *top = sp ? &st[sp - 1] : NULL;
        int imp = top ? top->implicit : implicit, bee = top ? top->be : be;
        unsigned char h[12];
        uint64_t at = s->pos;
        if (!get(s, h, 8))
            break;
        unsigned g = rd16(h, bee), e = rd16(h + 2, bee);
        if (g == 0xFFFE) {
            uint32_t len = rd32(h + 4, bee);
            if (e == 0xE000) {
                if (!top || top->kind == C_ITEM)
                    break; /* an item outside a sequence: DCMTK reports it */
                if (top->kind == C_PIXSEQ) {
                    if (len == UNDEF || !skip(s, len))
                        break;
                    continue;
                }
                if (sp == cap)
                    break; /* unreachable: depth is refused first */
                st[sp].kind = C_ITEM;
                st[sp].end = len == UNDEF ? UINT64_MAX : s->pos + len;
                st[sp].implicit = top->implicit;
                st[sp].be = top->be;
                sp++;
            } else if (e == 0xE00D) {
                if (top && top->kind == C_ITEM)
                    sp--;
            } else if (e == 0xE0DD) {
                if (top && top->kind == C_ITEM)
                    sp--;
                if (sp > 0 && st[sp - 1].kind != C_ITEM) {
                    depth -= st[sp - 1].kind == C_SQ;
                    sp--;
                }
            } else {
                break;
            }
            continue;
        }
        if (top && top->kind != C_ITEM)
            break; /* an element where an item should be */
        uint32_t len;
        int sq = 0, child_implicit = imp, child_be = bee;
        if (imp) {
            len = rd32(h + 4, 0);
            sq = (is_sq && is_sq((uint16_t)g, (uint16_t)e)) || len == UNDEF;
        } else {
            int lv = vr_long(h + 4);
            if (lv < 0)
                break; /* unknown VR */
            if (lv) {
                if (!get(s, h + 8, 4))
                    break;
                len = rd32(h + 8, bee);
            } else {
                len = rd16(h + 6, bee);
            }
            if (h[4] == 'S' && h[5] == 'Q') {
                sq = 1;
            } else if (len == UNDEF) {
                sq = 1;
                if (h[4] == 'U' && h[5] == 'N') /* UN of undefined length: implicit LE inside */
                    child_implicit = 1, child_be = 0;
            }
        }
        if (!sq) {
            if (!skip(s, len))
                break;
            continue;
        }
        int pix = g == 0x7FE0 && e == 0x0010 && len == UNDEF;
        if (!pix && ++depth > max_depth) {
            rc = wb_err(err, WB_E_DATA, path,
                        "at byte %llu%s: sequences nested more than %d deep (%04X,%04X): "
                        "refused before parsing (a deeper file could crash the parser)",
                        (unsigned long long)at,
                        s->deflate ? " of the inflated data set" : "", max_depth, g, e);
            break;
        }
        if (sp == cap)
            break;
        st[sp].kind = pix ? C_PIXSEQ : C_SQ;
        st[sp].end = len == UNDEF ? UINT64_MAX : s->pos + len;
        st[sp].implicit = child_implicit;
        st[sp].be = child_be;
        sp++;
    }
    if (rc == 0 && s->over)
        rc = wb_err(err, WB_E_DATA, path,
                    "the deflated data set inflates to more than %llu bytes (a \"zip bomb\"?)",
                    (unsigned long long)IO_DICOM_MAX_INFLATED);
    if (s->deflate)
        inflateEnd(&s->zs);
    free(s);
    return rc;
}
