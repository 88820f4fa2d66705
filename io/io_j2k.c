/* io_j2k.c — JPEG 2000 through OpenJPEG (Debian's libopenjp2, 2.5: 15444-1 and the HTJ2K block
 * decoder of 15444-15). Memory streams in both directions; OpenJPEG's messages are kept and
 * the first error goes into ours. */
#include "io/io_j2k.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openjpeg.h>

/* Code-block style bit of an HT (15444-15) code block; OpenJPEG keeps it in j2k.h, not public. */
#define J2K_CBLKSTY_HT 0x40u

typedef struct {
    const uint8_t *p;
    size_t n, pos;
} in_buf;

static OPJ_SIZE_T in_read(void *dst, OPJ_SIZE_T n, void *user)
{
    in_buf *b = user;
    if (b->pos >= b->n) return (OPJ_SIZE_T)-1;
    size_t k = b->n - b->pos < n ? b->n - b->pos : n;
    memcpy(dst, b->p + b->pos, k);
    b->pos += k;
    return k;
}

static OPJ_OFF_T in_skip(OPJ_OFF_T n, void *user)
{
    in_buf *b = user;
    if (n < 0) {
        size_t back = (size_t)-n > b->pos ? b->pos : (size_t)-n;
        b->pos -= back;
        return -(OPJ_OFF_T)back;
    }
    size_t k = b->n - b->pos < (size_t)n ? b->n - b->pos : (size_t)n;
    b->pos += k;
    return k == 0 && n > 0 ? -1 : (OPJ_OFF_T)k;
}

static OPJ_BOOL in_seek(OPJ_OFF_T pos, void *user)
{
    in_buf *b = user;
    if (pos < 0 || (OPJ_UINT64)pos > b->n) return OPJ_FALSE;
    b->pos = (size_t)pos;
    return OPJ_TRUE;
}

typedef struct {
    uint8_t *p;
    size_t n, cap, pos;
    int failed;
} out_buf;

static int out_reserve(out_buf *b, size_t need)
{
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static OPJ_SIZE_T out_write(void *src, OPJ_SIZE_T n, void *user)
{
    out_buf *b = user;
    if (n > SIZE_MAX - b->pos || out_reserve(b, b->pos + n) != 0) {
        b->failed = 1;
        return (OPJ_SIZE_T)-1;
    }
    if (b->pos > b->n) memset(b->p + b->n, 0, b->pos - b->n);
    memcpy(b->p + b->pos, src, n);
    b->pos += n;
    if (b->pos > b->n) b->n = b->pos;
    return n;
}

static OPJ_BOOL out_seek(OPJ_OFF_T pos, void *user)
{
    out_buf *b = user;
    if (pos < 0) return OPJ_FALSE;
    b->pos = (size_t)pos;
    return OPJ_TRUE;
}

static OPJ_OFF_T out_skip(OPJ_OFF_T n, void *user)
{
    out_buf *b = user;
    if (n < 0 && (size_t)-n > b->pos) return -1;
    b->pos = n < 0 ? b->pos - (size_t)-n : b->pos + (size_t)n;
    return n;
}

/* The first error OpenJPEG reports, without its trailing newline. */
typedef struct {
    char msg[256];
} opj_msgs;

static void on_error(const char *m, void *user)
{
    opj_msgs *c = user;
    if (c->msg[0] || !m) return;
    size_t k = strlen(m);
    while (k && (m[k - 1] == '\n' || m[k - 1] == ' ')) k--;
    if (k >= sizeof c->msg) k = sizeof c->msg - 1;
    memcpy(c->msg, m, k);
    c->msg[k] = '\0';
}

static void on_quiet(const char *m, void *user)
{
    (void)m;
    (void)user;
}

static void set_handlers(opj_codec_t *codec, opj_msgs *msgs)
{
    opj_set_error_handler(codec, on_error, msgs);
    opj_set_warning_handler(codec, on_quiet, NULL);
    opj_set_info_handler(codec, on_quiet, NULL);
}

static const uint8_t JP2_SIGNATURE[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};

int io_j2k_decode(const char *path, const uint8_t *data, size_t size, const io_j2k_expect *want,
                  io_j2k_image *img, wb_error *err)
{
    memset(img, 0, sizeof *img);
    static const char *const PIXEL_DATA = "(7FE0,0010) Pixel Data";
    OPJ_CODEC_FORMAT fmt;
    if (size >= 4 && data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51)
        fmt = OPJ_CODEC_J2K;
    else if (size >= 12 && memcmp(data, JP2_SIGNATURE, 12) == 0)
        fmt = OPJ_CODEC_JP2; /* not conformant in DICOM, but written by some software */
    else if (size < 4)
        return wb_err_at(err, WB_E_DATA, path, 0, 0, PIXEL_DATA,
                         "JPEG 2000 frame of %zu bytes: too short for a codestream", size);
    else
        return wb_err_at(err, WB_E_DATA, path, 0, 0, PIXEL_DATA,
                         "frame is not a JPEG 2000 codestream (it starts with %02X %02X %02X %02X, "
                         "expected FF 4F FF 51)", data[0], data[1], data[2], data[3]);

    in_buf b = {data, size, 0};
    opj_msgs msgs = {{0}};
    opj_codec_t *codec = opj_create_decompress(fmt);
    opj_stream_t *s = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_image_t *im = NULL;
    int rc = -1;
    if (!codec || !s) {
        wb_err(err, WB_E_NOMEM, path, "out of memory for the JPEG 2000 decoder");
        goto done;
    }
    opj_stream_set_user_data(s, &b, NULL);
    opj_stream_set_user_data_length(s, size);
    opj_stream_set_read_function(s, in_read);
    opj_stream_set_skip_function(s, in_skip);
    opj_stream_set_seek_function(s, in_seek);
    set_handlers(codec, &msgs);
    opj_dparameters_t par;
    opj_set_default_decoder_parameters(&par);
    if (!opj_setup_decoder(codec, &par) || !opj_decoder_set_strict_mode(codec, OPJ_TRUE)) {
        wb_err(err, WB_E_INTERNAL, path, "cannot set up the JPEG 2000 decoder: %s", msgs.msg);
        goto done;
    }
    if (!opj_read_header(s, codec, &im) || !im) {
        wb_err_at(err, WB_E_DATA, path, 0, 0, PIXEL_DATA,
                  "corrupt JPEG 2000 codestream header (%zu bytes): %s", size,
                  msgs.msg[0] ? msgs.msg : "unreadable");
        goto done;
    }
    /* Everything that decides the allocation is checked here, before decoding. */
    if ((int)im->numcomps != want->ncomps) {
        wb_err_at(err, WB_E_DATA, path, 0, 0, "(0028,0002) Samples per Pixel",
                  "is %d but the JPEG 2000 codestream has %u components", want->ncomps,
                  im->numcomps);
        goto done;
    }
    const opj_image_comp_t *c0 = &im->comps[0];
    for (OPJ_UINT32 k = 0; k < im->numcomps; k++)
        if (im->comps[k].dx != 1 || im->comps[k].dy != 1) {
            wb_err_at(err, WB_E_DATA, path, 0, 0, PIXEL_DATA,
                      "JPEG 2000 component %u is subsampled (%u x %u): not supported", k,
                      im->comps[k].dx, im->comps[k].dy);
            goto done;
        }
    const OPJ_UINT32 w = im->x1 - im->x0, h = im->y1 - im->y0;
    if (im->x1 < im->x0 || im->y1 < im->y0 || w != (OPJ_UINT32)want->width ||
        h != (OPJ_UINT32)want->height) {
        const int rows_wrong = h != (OPJ_UINT32)want->height;
        wb_err_at(err, WB_E_DATA, path, 0, 0, rows_wrong ? "(0028,0010) Rows" : "(0028,0011) Columns",
                  "the header says %d x %d (columns x rows) but the JPEG 2000 codestream is "
                  "%u x %u", want->width, want->height, w, h);
        goto done;
    }
    if (c0->prec < 1 || (int)c0->prec > want->max_prec) {
        wb_err_at(err, WB_E_DATA, path, 0, 0, "(0028,0100) Bits Allocated",
                  "is %d but the JPEG 2000 codestream has %u-bit samples", want->max_prec,
                  c0->prec);
        goto done;
    }
    int ht = 0;
    opj_codestream_info_v2_t *ci = opj_get_cstr_info(codec);
    if (ci) {
        if (ci->m_default_tile_info.tccp_info)
            ht = (ci->m_default_tile_info.tccp_info[0].cblksty & J2K_CBLKSTY_HT) != 0;
        opj_destroy_cstr_info(&ci);
    }
    if (!opj_decode(codec, s, im) || !opj_end_decompress(codec, s)) {
        wb_err_at(err, WB_E_DATA, path, 0, 0, PIXEL_DATA,
                  "truncated or corrupt JPEG 2000 codestream (%zu bytes): %s", size,
                  msgs.msg[0] ? msgs.msg : "decoding failed");
        goto done;
    }
    c0 = &im->comps[0];
    if (!c0->data || c0->w != w || c0->h != h) {
        wb_err_at(err, WB_E_DATA, path, 0, 0, PIXEL_DATA,
                  "JPEG 2000 decoding gave %u x %u samples, expected %u x %u", c0->w, c0->h, w, h);
        goto done;
    }
    /* the decoder's buffer is handed over, not copied (io_j2k_image_free frees it) */
    img->samples = c0->data;
    im->comps[0].data = NULL;
    img->width = (int)w;
    img->height = (int)h;
    img->ncomps = (int)im->numcomps;
    img->prec = (int)c0->prec;
    img->sgnd = c0->sgnd ? 1 : 0;
    img->htj2k = ht;
    rc = 0;
done:
    if (im) opj_image_destroy(im);
    if (s) opj_stream_destroy(s);
    if (codec) opj_destroy_codec(codec);
    return rc;
}

void io_j2k_image_free(io_j2k_image *img)
{
    if (!img) return;
    opj_image_data_free(img->samples);
    memset(img, 0, sizeof *img);
}

int io_j2k_encode_lossless(const char *path, const uint16_t *pixels, int width, int height,
                           int prec, uint8_t **out, size_t *out_len, wb_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (width <= 0 || height <= 0 || prec < 1 || prec > 16)
        return wb_err(err, WB_E_INTERNAL, path, "io_j2k_encode_lossless: bad geometry %dx%d, %d bits",
                      width, height, prec);
    opj_image_cmptparm_t cp;
    memset(&cp, 0, sizeof cp);
    cp.dx = cp.dy = 1;
    cp.w = (OPJ_UINT32)width;
    cp.h = (OPJ_UINT32)height;
    cp.prec = (OPJ_UINT32)prec;
    cp.sgnd = 0;
    opj_image_t *im = opj_image_create(1, &cp, OPJ_CLRSPC_GRAY);
    opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
    opj_stream_t *s = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_FALSE);
    out_buf b = {0};
    opj_msgs msgs = {{0}};
    int rc = -1;
    if (!im || !codec || !s) {
        wb_err(err, WB_E_NOMEM, path, "out of memory for the JPEG 2000 encoder");
        goto done;
    }
    im->x0 = im->y0 = 0;
    im->x1 = (OPJ_UINT32)width;
    im->y1 = (OPJ_UINT32)height;
    const size_t n = (size_t)width * height;
    const unsigned mask = prec >= 16 ? 0xFFFFu : (1u << prec) - 1u;
    for (size_t i = 0; i < n; i++) im->comps[0].data[i] = (OPJ_INT32)(pixels[i] & mask);

    opj_cparameters_t par;
    opj_set_default_encoder_parameters(&par);
    par.tcp_numlayers = 1;
    par.tcp_rates[0] = 0; /* lossless */
    par.cp_disto_alloc = 1;
    par.irreversible = 0;
    /* at most 6 resolutions, and none smaller than one sample */
    int side = width < height ? width : height, res = 1;
    while (res < 6 && (side >> res) > 0) res++;
    par.numresolution = res;
    set_handlers(codec, &msgs);
    opj_stream_set_user_data(s, &b, NULL);
    opj_stream_set_write_function(s, out_write);
    opj_stream_set_skip_function(s, out_skip);
    opj_stream_set_seek_function(s, out_seek);
    if (!opj_setup_encoder(codec, &par, im) || !opj_start_compress(codec, im, s) ||
        !opj_encode(codec, s) || !opj_end_compress(codec, s) || b.failed) {
        wb_err(err, b.failed ? WB_E_NOMEM : WB_E_INTERNAL, path, "JPEG 2000 encoding failed: %s",
               msgs.msg[0] ? msgs.msg : b.failed ? "out of memory" : "unknown error");
        goto done;
    }
    *out = b.p;
    *out_len = b.n;
    b.p = NULL;
    rc = 0;
done:
    free(b.p);
    if (s) opj_stream_destroy(s);
    if (codec) opj_destroy_codec(codec);
    if (im) opj_image_destroy(im);
    return rc;
}

const char *io_j2k_openjpeg_version(void) { return opj_version(); }
