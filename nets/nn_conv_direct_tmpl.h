/* nn_conv_direct_tmpl.h — the inner loops of the direct 3x3 convolutions, included once per
 * instruction set by nn_conv_direct.c (no include guard on purpose; it #undefs its parameters
 * at the end). The includer defines:
 *
 *   SFX(name)            the function name with the instruction set's suffix
 *   VEC, VL              the vector type and its width in floats
 *   VZERO() VSET1(s) VLOAD(p) VADD(a, b) VMUL(a, b) VFMA(a, b, c) = a * b + c fused,
 *   VSTORE(p, v), VRELU(v) = v > 0 ? v : 0 (NaN and -0 give +0), VMIN6(v) = v < 6 ? v : 6
 *   VLOADN(p, n)         n (<= VL, may be <= 0) floats from p, zeros after them
 *   VKEEP(v)             keeps v in a register (an empty asm), or nothing
 *   VSTOREN(p, v, n)     the first n (1..VL) floats of v to p
 *   VLOADR(old, p, lo, hi)  old with lanes lo..hi-1 loaded from p[0 .. hi-lo) (0 <= lo < hi
 *                        <= VL; p - lo may be read-masked, it stays inside the plane)
 *   VSTORER(p, v, lo, hi)   lanes lo..hi-1 of v to p[0 .. hi-lo)
 *   VLOADS, VSTORES      the same where p - lo is inside the array (a plain masked access)
 *   FWD_OCB, FWD_NV      forward tile: output channels x vectors of pixels (compile time)
 *   FWD_CASES            one FT(ocb, nv) per tile the dispatcher may ask for
 *   DW_OCB, DW_KIB       weight-gradient tile: output channels x kernel rows per pass
 *   DW_CASES             one DT(ocb, kib) per tile
 *
 * Every output element is one chain of fused multiply-adds in a fixed order (forward and
 * input gradient: input channel, kernel row, kernel column; weight gradient: 16 lanes over
 * pixels, each lane over image, row, 16-pixel chunk, then the lanes summed 0..15 in order),
 * whatever the vector width, the tile or the thread: every instruction set and thread count
 * gives the same bits.
 */

#define DW_LANES 16
#define DW_NL (DW_LANES / VL)
#define DW_PF 2 /* dW: rows ahead to prefetch (dy and input); 0: none */

/* Output row oy of OCB channels (y points at the tile's first channel), NV vectors of pixels
 * from x0. w: the block's weights as fwd_pack packs them ([input channel][tap][FWD_OCB]),
 * from the tile's first channel: every broadcast from one pointer at a constant offset. */
static inline __attribute__((always_inline)) void SFX(fwd_tile)(const dconv *p, const float *xpn,
                                                                const float *w, float *y,
                                                                const float *bias, int o0, int oy,
                                                                int x0, const int OCB, const int NV,
                                                                const int FLAT)
{
    VEC acc[FWD_OCB][FWD_NV];
    _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[o][v] = VZERO();
    const size_t wrow = p->wrow;
    const float *xr0 = xpn + (size_t)oy * p->s * wrow + x0;
    const int c0 = p->coloff[0], c1 = p->coloff[1], c2 = p->coloff[2];
    for (int c = 0; c < p->ic; c++) {
        const float *xc = xr0 + (size_t)c * p->plane;
        const float *wc = w + (size_t)c * 9 * FWD_OCB; /* packed: [tap][FWD_OCB] */
        _Pragma("GCC unroll 3") for (int ki = 0; ki < 3; ki++)
            _Pragma("GCC unroll 3") for (int kj = 0; kj < 3; kj++)
        {
            const float *xs = xc + ki * wrow + (kj == 0 ? c0 : kj == 1 ? c1 : c2);
            VEC xv[FWD_NV];
            _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) xv[v] = VLOAD(xs + v * VL);
            _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
            {
                const VEC wv = VSET1(wc[(ki * 3 + kj) * FWD_OCB + o]);
                _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
                    acc[o][v] = VFMA(xv[v], wv, acc[o][v]);
            }
        }
    }
    const size_t ohw = (size_t)p->oh * p->ow;
    if (FLAT) { /* x0 is the flat position q = oy * wrow + ox; oy == 0 */
        const int wf = (int)wrow;
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
        {
            const int qv = x0 + v * VL;
            const int r0 = qv / wf, r1 = (qv + VL - 1) / wf;
            /* the output rows this vector holds pixels of (at most 3 with wf >= 10 and
             * VL <= 16): lanes lo .. hi-1 go to dd, dd + 1, ... (dd: the column of lane lo) */
            int lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0}, nr = 0;
            ptrdiff_t dd[3] = {0, 0, 0};
            for (int rr = r0; rr <= r1 && rr < p->oh && nr < 3; rr++) {
                int l = rr * wf - qv, h = rr * wf + p->ow - qv;
                l = l < 0 ? 0 : l;
                h = h > VL ? VL : h;
                if (h > l) {
                    lo[nr] = l;
                    hi[nr] = h;
                    dd[nr] = (ptrdiff_t)rr * p->ow + (qv + l - (ptrdiff_t)rr * wf);
                    nr++;
                }
            }
            _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
            {
                float *yo = y + (size_t)o * ohw;
                VEC r = acc[o][v];
                if (p->accumulate) {
                    VEC old = VZERO();
                    if (!p->setz)
                        for (int k = 0; k < nr; k++)
                            old = VLOADR(old, yo + dd[k], lo[k], hi[k]);
                    r = VADD(old, r);
                } else if (bias)
                    r = VADD(r, VSET1(bias[o]));
                if (p->post_a) {
                    r = VADD(VMUL(r, VSET1(p->post_a[o0 + o])), VSET1(p->post_b[o0 + o]));
                    if (p->relu)
                        r = VRELU(r);
                    if (p->relu == NN_ACT_RELU6)
                        r = VMIN6(r);
                }
                for (int k = 0; k < nr; k++)
                    VSTORER(yo + dd[k], r, lo[k], hi[k]);
            }
        }
        return;
    }
    const int nvalid = p->ow - x0;
    _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
    {
        float *yo = y + (size_t)o * ohw + (size_t)oy * p->ow + x0;
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
        {
            int n = nvalid - v * VL;
            if (n <= 0)
                break;
            n = n > VL ? VL : n;
            VEC r = acc[o][v];
            if (p->accumulate)
                r = VADD(p->setz ? VZERO() : VLOADN(yo + v * VL, n), r);
            else if (bias)
                r = VADD(r, VSET1(bias[o]));
            if (p->post_a) { /* eval-mode BN (+ ReLU) of this channel */
                r = VADD(VMUL(r, VSET1(p->post_a[o0 + o])), VSET1(p->post_b[o0 + o]));
                if (p->relu)
                    r = VRELU(r);
                if (p->relu == NN_ACT_RELU6)
                    r = VMIN6(r);
            }
            VSTOREN(yo + v * VL, r, n);
        }
    }
}

/* the flat layout (stride 1, p->flat): items (image, channel block, tile of FWD_NV vectors
 * of flat positions q = oy * wrow + ox, the columns ox >= ow computed and dropped) */
static void SFX(fwdf_items)(const dconv *p, size_t i0, size_t i1)
{
    const int nob = (p->oc + FWD_OCB - 1) / FWD_OCB, T = FWD_NV * VL;
    const int Q = (p->oh - 1) * (int)p->wrow + p->ow, nt = (Q + T - 1) / T;
    const size_t K = (size_t)p->ic * 9, ohw = (size_t)p->oh * p->ow;
    for (size_t it = i0; it < i1; it++) {
        const int q0 = (int)(it % (size_t)nt) * T;
        const size_t r = it / (size_t)nt;
        const int ob = (int)(r % (size_t)nob), n = (int)(r / (size_t)nob);
        const float *xpn = p->xp + (size_t)n * p->ic * p->plane;
        float *yn = p->y + (size_t)n * p->oc * ohw;
        int o = ob * FWD_OCB, left = p->oc - o < FWD_OCB ? p->oc - o : FWD_OCB;
        int nv = (Q - q0 + VL - 1) / VL;
        nv = nv > FWD_NV ? FWD_NV : nv;
        while (left > 0) {
            const int b = left >= FWD_OCB ? FWD_OCB : left >= 4 ? 4 : left >= 2 ? 2 : 1;
            const float *w = p->w + (size_t)ob * FWD_OCB * K + (o - ob * FWD_OCB);
            const float *bias = p->b ? p->b + o : NULL;
            float *y = yn + (size_t)o * ohw;
#define FT(B, N)                                                                           \
    case (B) * 16 + (N):                                                                   \
        SFX(fwd_tile)(p, xpn, w, y, bias, o, 0, q0, B, N, 1);                              \
        break;
            switch (b * 16 + nv) {
                FWD_CASES
            default:
                break;
            }
#undef FT
            o += b;
            left -= b;
        }
    }
}

static void SFX(fwd_items)(const void *vp, size_t i0, size_t i1)
{
    const dconv *p = vp;
    if (p->flat) {
        SFX(fwdf_items)(p, i0, i1);
        return;
    }
    const int nob = (p->oc + FWD_OCB - 1) / FWD_OCB;
    const size_t K = (size_t)p->ic * 9, ohw = (size_t)p->oh * p->ow;
    for (size_t it = i0; it < i1; it++) {
        const int oy = (int)(it % (size_t)p->oh);
        const size_t r = it / (size_t)p->oh;
        const int ob = (int)(r % (size_t)nob), n = (int)(r / (size_t)nob);
        const float *xpn = p->xp + (size_t)n * p->ic * p->plane;
        float *yn = p->y + (size_t)n * p->oc * ohw;
        int o = ob * FWD_OCB, left = p->oc - o < FWD_OCB ? p->oc - o : FWD_OCB;
        while (left > 0) {
            const int b = left >= FWD_OCB ? FWD_OCB : left >= 4 ? 4 : left >= 2 ? 2 : 1;
            for (int x0 = 0; x0 < p->ow; x0 += FWD_NV * VL) {
                int nv = (p->ow - x0 + VL - 1) / VL;
                nv = nv > FWD_NV ? FWD_NV : nv;
                const float *w = p->w + (size_t)ob * FWD_OCB * K + (o - ob * FWD_OCB);
                const float *bias = p->b ? p->b + o : NULL;
                float *y = yn + (size_t)o * ohw;
#define FT(B, N)                                                                           \
    case (B) * 16 + (N):                                                                   \
        SFX(fwd_tile)(p, xpn, w, y, bias, o, oy, x0, B, N, 0);                                \
        break;
                switch (b * 16 + nv) {
                    FWD_CASES
                default:
                    break;
                }
#undef FT
            }
            o += b;
            left -= b;
        }
    }
}

/* 1x1 stride-1 convolution (nn_conv_pw_forward_post): OCB output channels from o0 x NV
 * vectors of pixels. Vector v's lanes 0 .. n-1 are pixels x + c * plane (c: the input
 * channel) of one image, lanes n .. hi-1 (when hi > n) the first pixels xb + c * plane of the
 * next; outputs to y / yb + o * plane (FULL: every vector is VL pixels of one image), added to
 * what is there when p->accumulate. The weights are read in place, output channel o's weight
 * of input channel c at w[o * wso + c * wsc], broadcast one input channel at a time. */
static inline __attribute__((always_inline)) void SFX(pw_tile)(const pwconv *p,
                                                               const pwvec *vs, int o0,
                                                               const int OCB, const int NV,
                                                               const int FULLX, const int FULL,
                                                               size_t xs)
{
    VEC acc[FWD_OCB][FWD_NV];
    const float *wr[FWD_OCB];
    _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
    {
        wr[o] = p->w + (size_t)(o0 + o) * p->wso;
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[o][v] = VZERO();
    }
    const size_t plane = p->plane, wsc = p->wsc;
    size_t wo = 0;
    for (int c = 0; c < p->ic; c++, wo += wsc) {
        VEC xv[FWD_NV];
        const size_t off = (size_t)c * (FULLX ? xs : plane);
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
        {
            if (FULLX)
                xv[v] = VLOAD(vs[v].x + off);
            else {
                xv[v] = VLOADN(vs[v].x + off, vs[v].n);
                if (vs[v].hi > vs[v].n)
                    xv[v] = VLOADS(xv[v], vs[v].xb + off, vs[v].n, vs[v].hi);
            }
        }
        _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
        {
            const VEC wv = VSET1(wr[o][wo]);
            _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
                acc[o][v] = VFMA(xv[v], wv, acc[o][v]);
        }
    }
    _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
    {
        const int oc = o0 + o;
        const size_t off = (size_t)oc * plane;
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
        {
            VEC r = acc[o][v];
            if (p->accumulate) {
                VEC old;
                if (FULL)
                    old = VLOAD(vs[v].y + off);
                else {
                    old = VLOADN(vs[v].y + off, vs[v].n);
                    if (vs[v].hi > vs[v].n)
                        old = VLOADS(old, vs[v].yb + off, vs[v].n, vs[v].hi);
                }
                r = VADD(old, r);
            }
            if (p->b)
                r = VADD(r, VSET1(p->b[oc]));
            if (p->post_a) { /* eval-mode BN (+ ReLU) of this channel */
                r = VADD(VMUL(r, VSET1(p->post_a[oc])), VSET1(p->post_b[oc]));
                if (p->act)
                    r = VRELU(r);
                if (p->act == NN_ACT_RELU6)
                    r = VMIN6(r);
            }
            if (FULL)
                VSTORE(vs[v].y + off, r);
            else {
                VSTOREN(vs[v].y + off, r, vs[v].n);
                if (vs[v].hi > vs[v].n)
                    VSTORES(vs[v].yb + off, r, vs[v].n, vs[v].hi);
            }
        }
    }
}

/* items: tiles of FWD_NV vectors of VL pixels. On planes of at least VL pixels the vectors run
 * over the batch's pixels (image by image) without a gap, so that a vector may hold the end of
 * one image and the start of the next (a 7 x 7 plane: 49 vectors for 16 images, not 64); on
 * smaller planes each image's plane starts a vector. A thread's tiles go in chunks of about
 * PW_CHUNK_BYTES of input columns: per block of output channels, every tile of the chunk, so
 * that the columns stay in cache and each output row is written in runs of the chunk's width
 * (tile by tile through every channel kept up to 3 * 64 rows in flight and lost the hardware
 * prefetchers on large maps: 32 -> 64 at 112 x 112, 8.4 against 4.7 ms) */
static void SFX(pw_items)(const void *vp, size_t t0, size_t t1)
{
    const pwconv *p = vp;
    const size_t P = p->plane, xim = (size_t)p->ic * P, yim = (size_t)p->oc * P;
    const int joined = P >= VL;
    const size_t nvec = (P + VL - 1) / VL;
    const size_t total = joined ? ((size_t)p->n * P + VL - 1) / VL : (size_t)p->n * nvec;
    size_t per = PW_CHUNK_BYTES / ((size_t)p->ic * FWD_NV * VL * sizeof(float));
    per = per < 1 ? 1 : per > PW_CHUNK_MAX ? PW_CHUNK_MAX : per;
    pwvec vs[PW_CHUNK_MAX][FWD_NV], pv[PW_CHUNK_MAX][FWD_NV];
    int nv[PW_CHUNK_MAX], full[PW_CHUNK_MAX], packed[PW_CHUNK_MAX];
    /* the input vectors of a chunk's tiles that span two images (or end one) copied whole,
     * [tile][channel][vector], once for all the blocks of output channels: the tile's loop then
     * reads them with plain loads (pw_tile FULLX) instead of one or two masked loads a vector
     * and channel (MobileNet's 14 x 14 and 7 x 7 planes, where most vectors span two images) */
    _Alignas(64) float pk[PW_PACK_FLOATS];
    for (size_t c0 = t0; c0 < t1; c0 += per) {
        const int nt = (int)(t1 - c0 < per ? t1 - c0 : per);
        for (int i = 0; i < nt; i++) {
            nv[i] = 0;
            full[i] = 1;
            for (int v = 0; v < FWD_NV; v++) {
                const size_t q = (c0 + (size_t)i) * FWD_NV + v;
                if (q >= total)
                    break;
                size_t img, k;
                if (joined) {
                    img = q * VL / P;
                    k = q * VL % P;
                } else {
                    img = q / nvec;
                    k = (q % nvec) * VL;
                }
                pwvec *e = &vs[i][v];
                e->x = p->x + img * xim + k;
                e->y = p->y + img * yim + k;
                e->n = P - k < VL ? (int)(P - k) : VL;
                e->hi = e->n;
                if (joined && e->n < VL && img + 1 < (size_t)p->n) {
                    e->xb = p->x + (img + 1) * xim;
                    e->yb = p->y + (img + 1) * yim;
                    e->hi = VL;
                }
                full[i] &= e->n == VL;
                nv[i]++;
            }
        }
        const size_t tpk = (size_t)p->ic * FWD_NV * VL; /* floats of a packed tile */
        for (int i = 0; i < nt; i++) {
            packed[i] = !full[i] && (size_t)nt * tpk <= PW_PACK_FLOATS;
            if (!packed[i])
                continue;
            float *d = pk + (size_t)i * tpk;
            for (int v = 0; v < nv[i]; v++) {
                const pwvec *e = &vs[i][v];
                pv[i][v] = *e;
                pv[i][v].x = d + (size_t)v * VL;
                for (int c = 0; c < p->ic; c++) {
                    const size_t off = (size_t)c * P;
                    VEC xv = VLOADN(e->x + off, e->n);
                    if (e->hi > e->n)
                        xv = VLOADS(xv, e->xb + off, e->n, e->hi);
                    VSTORE(d + ((size_t)c * FWD_NV + v) * VL, xv);
                }
            }
        }
        for (int o = 0; o < p->oc;) {
            const int left = p->oc - o;
            const int b = left >= FWD_OCB ? FWD_OCB : left >= 4 ? 4 : left >= 2 ? 2 : 1;
            for (int i = 0; i < nt; i++) {
#define FT(B, N)                                                                           \
    case (B) * 16 + (N):                                                                   \
        if (full[i])                                                                       \
            SFX(pw_tile)(p, vs[i], o, B, N, 1, 1, P);                                      \
        else if (packed[i])                                                                \
            SFX(pw_tile)(p, pv[i], o, B, N, 1, 0, (size_t)FWD_NV * VL);                    \
        else                                                                               \
            SFX(pw_tile)(p, vs[i], o, B, N, 0, 0, P);                                      \
        break;
                switch (b * 16 + nv[i]) {
                    FWD_CASES
                default:
                    break;
                }
#undef FT
            }
            o += b;
        }
    }
}

/* dW, one chunk of DW_LANES output pixels of one row (nvalid of them; dy past them read as
 * 0): S (the stride) and the tile are compile-time constants, so that the nine x taps are
 * loads at constant offsets from one row pointer plus the row stride (GCC then keeps the
 * loop's pointers in registers, where it spilled the nine tap pointers of a run-time
 * coloff before) */
static inline __attribute__((always_inline)) void SFX(dw_chunk)(VEC acc[DW_OCB][DW_KIB][3][DW_NL],
                                                                const float *xs, const float *dr,
                                                                size_t wrow, size_t ohw, int ow,
                                                                int c1, const int nvalid, const int OCB,
                                                                const int KIB, const int S)
{
    VEC d[DW_OCB][DW_NL];
#if DW_PF
    /* the same chunk DW_PF rows down: dy of each channel and the new input row */
    _Pragma("GCC unroll 4") for (int o = 0; o < OCB; o++)
        __builtin_prefetch(dr + (size_t)o * ohw + DW_PF * ow, 0, 3);
    __builtin_prefetch(xs + (size_t)(KIB - 1 + DW_PF * S) * wrow, 0, 3);
#endif
    _Pragma("GCC unroll 4") for (int o = 0; o < OCB; o++)
        _Pragma("GCC unroll 16") for (int l = 0; l < DW_NL; l++)
            d[o][l] = nvalid >= DW_LANES ? VLOAD(dr + (size_t)o * ohw + l * VL)
                                         : VLOADN(dr + (size_t)o * ohw + l * VL, nvalid - l * VL);
    _Pragma("GCC unroll 3") for (int ki = 0; ki < KIB; ki++)
        _Pragma("GCC unroll 3") for (int kj = 0; kj < 3; kj++)
    {
        const float *xk = xs + ki * wrow + (S == 1 ? kj : kj == 1 ? c1 : kj / 2);
        _Pragma("GCC unroll 16") for (int l = 0; l < DW_NL; l++)
        {
            VEC xv = VLOAD(xk + l * VL);
            VKEEP(xv); /* one load for OCB FMAs, not one folded into each */
            _Pragma("GCC unroll 4") for (int o = 0; o < OCB; o++)
                acc[o][ki][kj][l] = VFMA(d[o][l], xv, acc[o][ki][kj][l]);
        }
    }
}

/* dW of OCB output channels from o0, input channel c, kernel rows ki0 .. ki0+KIB-1, over
 * output rows r0 .. r1-1 of the job's images. With p->lanes ([oc][ic][9][16]) the 16 lane
 * sums are carried there from one row block to the next (so that a block's input and dy stay
 * in cache while every (channel, output block) item reads them) and the caller adds them up;
 * without, they start at 0 and are added up (in lane order) into p->dw here. */
static inline __attribute__((always_inline)) void SFX(dw_tile)(const dconv *p, int c, int o0,
                                                               int ki0, const int OCB,
                                                               const int KIB, const int S)
{
    VEC acc[DW_OCB][DW_KIB][3][DW_NL];
#define LANES(o, ki, kj) \
    (p->lanes + ((((size_t)(o0 + (o)) * p->ic + c) * 9 + (size_t)(ki0 + (ki)) * 3 + (kj)) * DW_LANES))
    _Pragma("GCC unroll 4") for (int o = 0; o < OCB; o++)
        _Pragma("GCC unroll 3") for (int ki = 0; ki < KIB; ki++)
            _Pragma("GCC unroll 3") for (int kj = 0; kj < 3; kj++)
                _Pragma("GCC unroll 16") for (int l = 0; l < DW_NL; l++)
                    acc[o][ki][kj][l] = p->lanes ? VLOAD(LANES(o, ki, kj) + l * VL) : VZERO();
    const size_t ohw = (size_t)p->oh * p->ow, wrow = p->wrow;
    const int c1 = p->coloff[1];
    for (int n = 0; n < p->n; n++) {
        const float *xc = p->xp + ((size_t)n * p->ic + c) * p->plane + (size_t)ki0 * wrow;
        const float *dyn = p->dy + ((size_t)n * p->oc + o0) * ohw;
        for (int oy = p->r0; oy < p->r1; oy++) {
            const float *xr = xc + (size_t)oy * p->s * wrow;
            const float *dr = dyn + (size_t)oy * p->ow;
            /* the full chunks without a test, then the last one masked; the x taps at
             * constant offsets from one row pointer (stride 1: kj; stride 2: phase 0 at 0
             * and 1, phase 1 at c1) */
            int x0 = 0;
            for (; x0 + DW_LANES <= p->ow; x0 += DW_LANES)
                SFX(dw_chunk)(acc, xr + x0, dr + x0, wrow, ohw, p->ow, c1, DW_LANES, OCB, KIB, S);
            if (x0 < p->ow)
                SFX(dw_chunk)(acc, xr + x0, dr + x0, wrow, ohw, p->ow, c1, p->ow - x0, OCB, KIB, S);
        }
    }
    /* unrolled, so that acc stays in registers (an indexed acc lives in memory) */
    _Pragma("GCC unroll 4") for (int o = 0; o < OCB; o++)
        _Pragma("GCC unroll 3") for (int ki = 0; ki < KIB; ki++)
            _Pragma("GCC unroll 3") for (int kj = 0; kj < 3; kj++)
    {
                if (p->lanes) {
                    _Pragma("GCC unroll 16") for (int l = 0; l < DW_NL; l++)
                        VSTORE(LANES(o, ki, kj) + l * VL, acc[o][ki][kj][l]);
                    continue;
                }
                float t[DW_LANES];
                _Pragma("GCC unroll 16") for (int l = 0; l < DW_NL; l++)
                    VSTORE(t + l * VL, acc[o][ki][kj][l]);
                float s = t[0];
                for (int q = 1; q < DW_LANES; q++)
                    s += t[q];
                p->dw[((size_t)(o0 + o) * p->ic + c) * 9 + (size_t)(ki0 + ki) * 3 + kj] += s;
            }
#undef LANES
}

/* items: (input channel, block of DW_OCB output channels), input channel major */
static void SFX(dw_items)(const void *vp, size_t i0, size_t i1)
{
    const dconv *p = vp;
    const int nob = (p->oc + DW_OCB - 1) / DW_OCB;
    for (size_t it = i0; it < i1; it++) {
        const int c = (int)(it / (size_t)nob), ob = (int)(it % (size_t)nob);
        int o = ob * DW_OCB, left = p->oc - o < DW_OCB ? p->oc - o : DW_OCB;
        while (left > 0) {
            const int b = left >= DW_OCB ? DW_OCB : left >= 2 ? 2 : 1;
            for (int ki0 = 0; ki0 < 3; ki0 += DW_KIB) {
#define DT(B, KB)                                                                          \
    case (B) * 16 + (KB):                                                                  \
        if (p->s == 1)                                                                     \
            SFX(dw_tile)(p, c, o, ki0, B, KB, 1);                                          \
        else                                                                               \
            SFX(dw_tile)(p, c, o, ki0, B, KB, 2);                                          \
        break;
                switch (b * 16 + DW_KIB) {
                    DW_CASES
                default:
                    break;
                }
#undef DT
            }
            o += b;
            left -= b;
        }
    }
}

#undef DW_NL
#undef DW_PF
#undef DW_LANES

/* the parameters, for the next instruction set */
#undef SFX
#undef VEC
#undef VL
#undef VZERO
#undef VSET1
#undef VLOAD
#undef VADD
#undef VMUL
#undef VRELU
#undef VMIN6
#undef VFMA
#undef VSTORE
#undef VLOADN
#undef VSTOREN
#undef VKEEP
#undef VLOADR
#undef VSTORER
#undef VLOADS
#undef VSTORES
#undef FWD_OCB
#undef FWD_NV
#undef FWD_CASES
#undef DW_OCB
#undef DW_KIB
#undef DW_CASES
