// itk_shim.cpp — the ITK filters behind io_itk.h. The only translation unit that includes ITK
// (it compiles slowly). Every entry point catches every exception and returns -1 with err
// filled; nothing C++ crosses the C API.
#include "io/io_itk.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// GCC 12 reports a false -Warray-bounds inside itkSize.h when it inlines
// NeighborhoodOperator::FillCenteredDirectional (the Gaussian kernel): silence it for ITK only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#include <itkAdaptiveHistogramEqualizationImageFilter.h>
#include <itkBinaryFillholeImageFilter.h>
#include <itkConfigure.h>
#include <itkConnectedComponentImageFilter.h>
#include <itkDiscreteGaussianImageFilter.h>
#include <itkFlipImageFilter.h>
#include <itkIdentityTransform.h>
#include <itkImage.h>
#include <itkLinearInterpolateImageFunction.h>
#include <itkOtsuThresholdImageFilter.h>
#include <itkRelabelComponentImageFilter.h>
#include <itkResampleImageFilter.h>
#include <itkScalarImageToTextureFeaturesFilter.h>
#pragma GCC diagnostic pop

namespace {

using FloatImage = itk::Image<float, 2>;
using MaskImage = itk::Image<unsigned char, 2>;
using LabelImage = itk::Image<unsigned int, 2>;

int check_size(int rows, int cols, wb_error *err, const char *what)
{
    if (rows <= 0 || cols <= 0 || rows > IO_ITK_MAX_DIM || cols > IO_ITK_MAX_DIM ||
        (size_t)rows * (size_t)cols > IO_ITK_MAX_PIXELS)
        return wb_err(err, WB_E_USAGE, NULL, "%s: image size %dx%d out of range (1..%d per side, "
                      "at most %zu pixels)", what, rows, cols, IO_ITK_MAX_DIM, IO_ITK_MAX_PIXELS);
    return 0;
}

// ITK's index 0 is x (the column), index 1 is y (the row): row-major buffers map directly.
template <typename TImage>
typename TImage::Pointer make_image(int rows, int cols)
{
    auto im = TImage::New();
    typename TImage::RegionType region;
    typename TImage::SizeType size;
    size[0] = (itk::SizeValueType)cols;
    size[1] = (itk::SizeValueType)rows;
    region.SetSize(size);
    im->SetRegions(region);
    im->Allocate();
    return im;
}

template <typename TImage, typename T>
typename TImage::Pointer import_image(const T *px, int rows, int cols)
{
    auto im = make_image<TImage>(rows, cols);
    auto *dst = im->GetBufferPointer();
    size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < n; i++)
        dst[i] = (typename TImage::PixelType)px[i];
    return im;
}

int fail_exception(wb_error *err, const char *what, const char *text)
{
    return wb_err(err, WB_E_INTERNAL, NULL, "%s: ITK failed: %s", what, text);
}

// Runs f and turns any exception into an error record.
template <typename F>
int guarded(wb_error *err, const char *what, F f)
{
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return wb_err(err, WB_E_NOMEM, NULL, "%s: out of memory", what);
    } catch (const itk::ExceptionObject &e) {
        return fail_exception(err, what, e.GetDescription());
    } catch (const std::exception &e) {
        return fail_exception(err, what, e.what());
    } catch (...) {
        return fail_exception(err, what, "unknown exception");
    }
}

} // namespace

extern "C" int io_itk_otsu_threshold(const float *img, int rows, int cols, int bins, float *thr,
                                     wb_error *err)
{
    if (check_size(rows, cols, err, "otsu threshold"))
        return -1;
    if (bins < 2 || bins > 65536)
        return wb_err(err, WB_E_USAGE, NULL, "otsu threshold: bins must be 2..65536, got %d", bins);
    return guarded(err, "otsu threshold", [&]() {
        auto im = import_image<FloatImage>(img, rows, cols);
        using Otsu = itk::OtsuThresholdImageFilter<FloatImage, MaskImage>;
        auto f = Otsu::New();
        f->SetInput(im);
        f->SetNumberOfHistogramBins((unsigned)bins);
        f->Update();
        *thr = (float)f->GetThreshold();
        return 0;
    });
}

extern "C" int io_itk_triangle_threshold(const float *img, int rows, int cols, int bins,
                                         float *thr, wb_error *err)
{
    if (check_size(rows, cols, err, "triangle threshold"))
        return -1;
    if (bins < 2 || bins > 65536)
        return wb_err(err, WB_E_USAGE, NULL, "triangle threshold: bins must be 2..65536, got %d",
                      bins);
    // Computed here rather than with itk::TriangleThresholdCalculator: ITK 5.2's reads one bin
    // past its histogram when the threshold falls in the last bin (AddressSanitizer finds it on
    // a blank image).
    return guarded(err, "triangle threshold", [&]() {
        size_t n = (size_t)rows * (size_t)cols;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (img[i] == img[i]) { // NaN never counts
                lo = std::min(lo, img[i]);
                hi = std::max(hi, img[i]);
            }
        if (!(hi > lo)) { // constant (or all NaN): nothing is above
            *thr = hi == hi ? hi : 0.0f;
            return 0;
        }
        std::vector<double> h((size_t)bins, 0.0);
        const double w = ((double)hi - lo) / bins, inv_w = bins / ((double)hi - lo);
        for (size_t i = 0; i < n; i++)
            if (img[i] == img[i])
                h[std::min((size_t)((double)(img[i] - lo) * inv_w), (size_t)bins - 1)] += 1;
        // Zack's triangle: the line from the peak to the far end of the histogram; the bin
        // farthest below it is the threshold.
        int peak = (int)(std::max_element(h.begin(), h.end()) - h.begin());
        int first = 0, last = bins - 1;
        while (h[first] == 0)
            first++;
        while (h[last] == 0)
            last--;
        int end = (last - peak) >= (peak - first) ? last : first;
        int best = peak;
        double best_d = 0, dx = end - peak, dy = -h[peak];
        for (int k = std::min(peak, end); k <= std::max(peak, end); k++) {
            // distance (up to a constant factor) of (k, h[k]) below the line
            double d = dx * (h[k] - h[peak]) - dy * (k - peak);
            d = end > peak ? -d : d;
            if (d > best_d) {
                best_d = d;
                best = k;
            }
        }
        // Foreground: the side of the threshold away from the peak (bright tissue on a dark
        // background puts the peak low and end high). Pixels above the bin's upper edge.
        *thr = (float)(lo + (best + 1) * w);
        return 0;
    });
}

extern "C" int io_itk_largest_component(uint8_t *mask, int rows, int cols, int fully_connected,
                                        size_t *area, wb_error *err)
{
    if (check_size(rows, cols, err, "largest component"))
        return -1;
    return guarded(err, "largest component", [&]() {
        auto im = import_image<MaskImage>(mask, rows, cols);
        auto cc = itk::ConnectedComponentImageFilter<MaskImage, LabelImage>::New();
        cc->SetInput(im);
        cc->SetFullyConnected(fully_connected != 0);
        cc->SetBackgroundValue(0);
        auto rl = itk::RelabelComponentImageFilter<LabelImage, LabelImage>::New();
        rl->SetInput(cc->GetOutput());
        rl->Update();
        const unsigned *lab = rl->GetOutput()->GetBufferPointer();
        size_t n = (size_t)rows * (size_t)cols, count = 0;
        // Relabelling sorts by size, largest first; ties keep the scan order.
        for (size_t i = 0; i < n; i++) {
            mask[i] = lab[i] == 1;
            count += mask[i];
        }
        if (area)
            *area = count;
        return 0;
    });
}

extern "C" int io_itk_fill_holes(uint8_t *mask, int rows, int cols, int fully_connected,
                                 wb_error *err)
{
    if (check_size(rows, cols, err, "fill holes"))
        return -1;
    return guarded(err, "fill holes", [&]() {
        auto im = import_image<MaskImage>(mask, rows, cols);
        auto f = itk::BinaryFillholeImageFilter<MaskImage>::New();
        f->SetInput(im);
        f->SetForegroundValue(1);
        f->SetFullyConnected(fully_connected != 0);
        f->Update();
        const unsigned char *o = f->GetOutput()->GetBufferPointer();
        size_t n = (size_t)rows * (size_t)cols;
        for (size_t i = 0; i < n; i++)
            mask[i] = o[i] ? 1 : 0;
        return 0;
    });
}

extern "C" int io_itk_mask_bbox(const uint8_t *mask, int rows, int cols, int box[4],
                                wb_error *err)
{
    if (check_size(rows, cols, err, "mask bounding box"))
        return -1;
    int r0 = rows, r1 = -1, c0 = cols, c1 = -1;
    for (int r = 0; r < rows; r++) {
        const uint8_t *m = mask + (size_t)r * (size_t)cols;
        for (int c = 0; c < cols; c++) {
            if (!m[c])
                continue;
            r0 = std::min(r0, r);
            r1 = r;
            c0 = std::min(c0, c);
            c1 = std::max(c1, c);
        }
    }
    if (r1 < 0)
        return wb_err(err, WB_E_DATA, NULL, "mask bounding box: the mask is empty");
    box[0] = r0;
    box[1] = c0;
    box[2] = r1 + 1;
    box[3] = c1 + 1;
    return 0;
}

extern "C" int io_itk_flip_horizontal(float *img, int rows, int cols, wb_error *err)
{
    if (check_size(rows, cols, err, "flip"))
        return -1;
    return guarded(err, "flip", [&]() {
        auto im = import_image<FloatImage>(img, rows, cols);
        auto f = itk::FlipImageFilter<FloatImage>::New();
        f->SetInput(im);
        itk::FlipImageFilter<FloatImage>::FlipAxesArrayType axes;
        axes[0] = true; // x: columns
        axes[1] = false;
        f->SetFlipAxes(axes);
        f->Update();
        std::memcpy(img, f->GetOutput()->GetBufferPointer(),
                    (size_t)rows * (size_t)cols * sizeof(float));
        return 0;
    });
}

extern "C" int io_itk_resample(const float *src, int rows, int cols, float *dst, int out_rows,
                               int out_cols, int antialias, wb_error *err)
{
    if (check_size(rows, cols, err, "resample") || check_size(out_rows, out_cols, err, "resample"))
        return -1;
    return guarded(err, "resample", [&]() {
        FloatImage::Pointer im = import_image<FloatImage>(src, rows, cols);
        const double s[2] = {(double)cols / out_cols, (double)rows / out_rows}; // x, y
        if (antialias && (s[0] > 1 || s[1] > 1)) {
            using Gauss = itk::DiscreteGaussianImageFilter<FloatImage, FloatImage>;
            auto g = Gauss::New();
            g->SetInput(im);
            Gauss::ArrayType var, maxerr;
            for (int d = 0; d < 2; d++) {
                double sigma = s[d] > 1 ? (s[d] - 1) / 2 : 0;
                var[d] = sigma * sigma;
                maxerr[d] = 0.001;
            }
            g->SetVariance(var);
            g->SetMaximumError(maxerr);
            g->SetMaximumKernelWidth(256);
            g->SetUseImageSpacing(false);
            g->Update();
            im = g->GetOutput();
            im->DisconnectPipeline();
        }
        using Resample = itk::ResampleImageFilter<FloatImage, FloatImage>;
        auto r = Resample::New();
        r->SetInput(im);
        r->SetTransform(itk::IdentityTransform<double, 2>::New());
        r->SetInterpolator(itk::LinearInterpolateImageFunction<FloatImage, double>::New());
        FloatImage::SpacingType sp;
        FloatImage::PointType org;
        FloatImage::SizeType sz;
        for (int d = 0; d < 2; d++) {
            sp[d] = s[d];
            org[d] = 0.5 * s[d] - 0.5; // pixel areas aligned with the input's
        }
        sz[0] = (itk::SizeValueType)out_cols;
        sz[1] = (itk::SizeValueType)out_rows;
        r->SetOutputSpacing(sp);
        r->SetOutputOrigin(org);
        r->SetSize(sz);
        r->SetDefaultPixelValue(0);
        r->Update();
        std::memcpy(dst, r->GetOutput()->GetBufferPointer(),
                    (size_t)out_rows * (size_t)out_cols * sizeof(float));
        return 0;
    });
}

extern "C" int io_itk_clahe(float *img, int rows, int cols, int radius, double alpha, double beta,
                            wb_error *err)
{
    if (check_size(rows, cols, err, "CLAHE"))
        return -1;
    if (radius < 1 || radius > 4096)
        return wb_err(err, WB_E_USAGE, NULL, "CLAHE: radius must be 1..4096, got %d", radius);
    if (!(alpha >= 0 && alpha <= 1) || !(beta >= 0 && beta <= 1))
        return wb_err(err, WB_E_USAGE, NULL, "CLAHE: alpha and beta must be in [0,1], got %g, %g",
                      alpha, beta);
    return guarded(err, "CLAHE", [&]() {
        auto im = import_image<FloatImage>(img, rows, cols);
        using Clahe = itk::AdaptiveHistogramEqualizationImageFilter<FloatImage>;
        auto f = Clahe::New();
        f->SetInput(im);
        f->SetAlpha((float)alpha);
        f->SetBeta((float)beta);
        Clahe::ImageSizeType rad;
        rad.Fill((itk::SizeValueType)radius);
        f->SetRadius(rad);
        f->Update();
        std::memcpy(img, f->GetOutput()->GetBufferPointer(),
                    (size_t)rows * (size_t)cols * sizeof(float));
        return 0;
    });
}

namespace {

using Tex = itk::Statistics::ScalarImageToTextureFeaturesFilter<FloatImage>;
using TexFeature = itk::Statistics::HistogramToTextureFeaturesFilterEnums::TextureFeature;
// The order of out[] (io_itk.h's IO_ITK_GLCM_*).
const TexFeature glcm_order[IO_ITK_GLCM_COUNT] = {
    TexFeature::Energy,  TexFeature::Entropy,      TexFeature::Correlation,       TexFeature::InverseDifferenceMoment,
    TexFeature::Inertia, TexFeature::ClusterShade, TexFeature::ClusterProminence, TexFeature::HaralickCorrelation};
// ITK's default offsets (ScalarImageToTextureFeaturesFilter: the "previous" neighbours of a
// radius-1 neighbourhood, in its order), as (row, column) steps.
const int glcm_offsets[4][2] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}};

// The arguments checked and the image quantised: level = floor(v * levels), clamped to
// 0..levels-1 (NaN: 0).
int glcm_prepare(const float *img, const uint8_t *mask, int rows, int cols, int levels,
                 wb_error *err)
{
    if (check_size(rows, cols, err, "GLCM features"))
        return -1;
    if (levels < 2 || levels > 1024)
        return wb_err(err, WB_E_USAGE, NULL, "GLCM features: levels must be 2..1024, got %d",
                      levels);
    (void)img;
    // Is there any pair of 8-neighbours inside the mask? (Else ITK divides by zero.)
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            if (!mask[(size_t)r * cols + c])
                continue;
            for (int k = 0; k < 4; k++) {
                int rr = r + glcm_offsets[k][0], cc = c + glcm_offsets[k][1];
                if (rr >= 0 && cc >= 0 && cc < cols && mask[(size_t)rr * cols + cc])
                    return 0;
            }
        }
    return wb_err(err, WB_E_DATA, NULL, "GLCM features: the mask has no two neighbouring "
                  "pixels");
}

inline int glcm_level(float v, int levels)
{
    int l = v > 0 ? (int)std::floor((double)v * levels) : 0; // NaN -> 0
    return std::min(l, levels - 1);
}

// ScalarImageToTextureFeaturesFilter's mean and population SD over the offsets, the same
// recurrence in the same order (Knuth's, as ITK 5.2 writes it), so the same bits.
void glcm_mean_sd(const double feat[4][IO_ITK_GLCM_COUNT], double out[IO_ITK_GLCM_COUNT],
                  double sd[IO_ITK_GLCM_COUNT])
{
    const size_t n_off = 4;
    for (int f = 0; f < IO_ITK_GLCM_COUNT; f++) {
        double m = feat[0][f], s = 0;
        for (size_t o = 1; o < n_off; o++) {
            size_t k = o + 1;
            double x = feat[o][f], m1 = m + (x - m) / k;
            s = s + (x - m) * (x - m1);
            m = m1;
        }
        out[f] = m;
        if (sd)
            sd[f] = std::sqrt(s / n_off);
    }
}

// HistogramToTextureFeaturesFilter<Histogram<double>>::GenerateData of ITK 5.2 (with its
// ComputeMeansAndVariances) on the frequencies f[i0 + i1 * L] of an L x L histogram: the same
// operations on the same types, in the same order over the bins (the histogram's instance
// order, axis 0 fastest), with itk::Math's own tests, so the same bits. What it leaves out is
// the filter's itk::Index (a heap-allocated vnl vector) per bin in each of its three passes:
// 3 x 4096 allocations per offset at 64 levels, most of a patch's feature time. out[] in the
// filter's TextureFeature order (Energy .. HaralickCorrelation).
void glcm_texture(const std::vector<double> &f, const std::vector<size_t> &nz, size_t L, double out[8])
{
    // Only the bins with a frequency (nz, ascending; every bin when none has one) are visited:
    // every sum below starts at +0 and a bin of frequency 0 adds a term of +0 to it (or is
    // skipped, in the features' loop), which leaves it as it was, so the bits are those of the
    // pass over every bin.
    double total = 0; // the histogram's total frequency (integer counts: exact in any order)
    for (size_t k : nz)
        total += f[k];
    std::vector<double> rf(nz.size());
    for (size_t j = 0; j < nz.size(); j++)
        rf[j] = f[nz[j]] / total;
    // ComputeMeansAndVariances
    std::vector<double> marginal(L, 0.0);
    double pixelMean = 0;
    for (size_t j = 0; j < nz.size(); j++) {
        const itk::IndexValueType i0 = (itk::IndexValueType)(nz[j] % L);
        pixelMean += i0 * rf[j];
        marginal[(size_t)i0] += rf[j];
    }
    double marginalMean = marginal[0], marginalDevSquared = 0;
    for (unsigned int a = 1; a < L; a++) {
        int k = a + 1;
        double M_k_minus_1 = marginalMean;
        double S_k_minus_1 = marginalDevSquared;
        double x_k = marginal[a];
        double M_k = M_k_minus_1 + (x_k - M_k_minus_1) / k;
        double S_k = S_k_minus_1 + (x_k - M_k_minus_1) * (x_k - M_k);
        marginalMean = M_k;
        marginalDevSquared = S_k;
    }
    marginalDevSquared = marginalDevSquared / L;
    double pixelVariance = 0;
    for (size_t j = 0; j < nz.size(); j++) {
        const itk::IndexValueType i0 = (itk::IndexValueType)(nz[j] % L);
        pixelVariance += (i0 - pixelMean) * (i0 - pixelMean) * rf[j];
    }
    // GenerateData's features
    double energy = 0, entropy = 0, correlation = 0, inverseDifferenceMoment = 0, inertia = 0,
           clusterShade = 0, clusterProminence = 0, haralickCorrelation = 0;
    double pixelVarianceSquared = pixelVariance * pixelVariance;
    if (itk::Math::FloatAlmostEqual(pixelVarianceSquared, 0.0, 4,
                                    2 * itk::NumericTraits<double>::epsilon()))
        pixelVarianceSquared = 1.;
    const double log2 = std::log(2.0);
    for (size_t j = 0; j < nz.size(); j++) {
        const double frequency = rf[j];
        if (itk::Math::AlmostEquals(frequency, itk::NumericTraits<double>::ZeroValue()))
            continue;
        const size_t k = nz[j];
        const itk::IndexValueType i0 = (itk::IndexValueType)(k % L), i1 = (itk::IndexValueType)(k / L);
        energy += frequency * frequency;
        entropy -= (frequency > 0.0001) ? frequency * std::log(frequency) / log2 : 0;
        correlation += ((i0 - pixelMean) * (i1 - pixelMean) * frequency) / pixelVarianceSquared;
        inverseDifferenceMoment += frequency / (1.0 + (i0 - i1) * (i0 - i1));
        inertia += (i0 - i1) * (i0 - i1) * frequency;
        clusterShade += std::pow((i0 - pixelMean) + (i1 - pixelMean), 3) * frequency;
        clusterProminence += std::pow((i0 - pixelMean) + (i1 - pixelMean), 4) * frequency;
        haralickCorrelation += i0 * i1 * frequency;
    }
    haralickCorrelation = (haralickCorrelation - marginalMean * marginalMean) / marginalDevSquared;
    const double v[8] = {energy,       entropy,           correlation,        inverseDifferenceMoment,
                         inertia,      clusterShade,      clusterProminence,  haralickCorrelation};
    for (int i = 0; i < 8; i++)
        out[i] = v[i];
}

} // namespace

// The co-occurrence counts are made here, one offset at a time, put in the bins of the
// histogram ScalarImageToCooccurrenceMatrixFilter would have filled (same bins, bounds and
// integer frequencies, the bins found by ITK's own lookup), and the features computed from it
// as ITK's HistogramToTextureFeaturesFilter computes them (glcm_texture): ITK's to the bit
// (tests/preprocess checks them against io_itk_glcm_features_reference, the whole ITK
// filter), without the filter's histogram lookup and neighbourhood iterator per pixel pair,
// nor its index allocation per bin.
extern "C" int io_itk_glcm_features(const float *img, const uint8_t *mask, int rows, int cols,
                                    int levels, double out[IO_ITK_GLCM_COUNT],
                                    double sd[IO_ITK_GLCM_COUNT], wb_error *err)
{
    if (glcm_prepare(img, mask, rows, cols, levels, err))
        return -1;
    return guarded(err, "GLCM features", [&]() {
        const size_t n = (size_t)rows * (size_t)cols, L = (size_t)levels;
        std::vector<uint16_t> q(n);
        for (size_t i = 0; i < n; i++)
            q[i] = (uint16_t)glcm_level(img[i], levels);
        using Hist = Tex::HistogramType;
        // the histogram as ScalarImageToCooccurrenceMatrixFilter sets it up with
        // SetPixelValueMinMax(0, levels - 1): levels bins per axis over [0, levels]
        auto h = Hist::New();
        h->SetMeasurementVectorSize(2);
        Hist::SizeType size(2);
        size.Fill((Hist::SizeValueType)levels);
        Hist::MeasurementVectorType lo(2), hi(2);
        const float fmin = 0.0f, fmax = (float)(levels - 1);
        lo.Fill(fmin);
        hi.Fill(fmax + 1);
        // each level's bin, by ITK's own lookup (once per level, not once per pair)
        std::vector<Hist::IndexValueType> bin(L);
        {
            h->Initialize(size, lo, hi);
            Hist::MeasurementVectorType mv(2);
            Hist::IndexType idx(2);
            for (size_t l = 0; l < L; l++) {
                mv.Fill((double)(float)l);
                if (!h->GetIndex(mv, idx))
                    throw std::runtime_error("GLCM level " + std::to_string(l) + " has no histogram bin");
                bin[l] = idx[0];
            }
        }
        std::vector<uint32_t> cnt(L * L);
        std::vector<double> freq(L * L);
        std::vector<size_t> nz; // the bins with a frequency, ascending
        nz.reserve(std::min(L * L, 2 * n));
        double feat[4][IO_ITK_GLCM_COUNT];
        for (int o = 0; o < 4; o++) {
            std::fill(cnt.begin(), cnt.end(), 0u);
            const int dr = glcm_offsets[o][0], dc = glcm_offsets[o][1];
            for (int r = std::max(0, -dr); r < rows; r++) {
                const int rr = r + dr;
                if (rr >= rows)
                    break;
                const size_t row = (size_t)r * cols, nrow = (size_t)rr * cols;
                for (int c = std::max(0, -dc); c < cols && c + dc < cols; c++) {
                    if (!mask[row + c] || !mask[nrow + c + dc])
                        continue;
                    const size_t a = q[row + c], b = q[nrow + c + dc];
                    cnt[a * L + b]++;
                    cnt[b * L + a]++;
                }
            }
            std::fill(freq.begin(), freq.end(), 0.0);
            for (size_t a = 0; a < L; a++)
                for (size_t b = 0; b < L; b++)
                    if (cnt[a * L + b]) // the bin (bin[a], bin[b]), axis 0 fastest
                        freq[(size_t)bin[a] + (size_t)bin[b] * L] += (double)cnt[a * L + b];
            nz.clear();
            for (size_t k = 0; k < L * L; k++)
                if (freq[k] != 0)
                    nz.push_back(k);
            if (nz.empty()) // no pair at this offset: every frequency is 0 / 0, as in ITK
                for (size_t k = 0; k < L * L; k++)
                    nz.push_back(k);
            double t[8];
            glcm_texture(freq, nz, L, t);
            for (int f = 0; f < IO_ITK_GLCM_COUNT; f++)
                feat[o][f] = t[(int)glcm_order[f]];
        }
        glcm_mean_sd(feat, out, sd);
        return 0;
    });
}

extern "C" int io_itk_glcm_features_reference(const float *img, const uint8_t *mask, int rows,
                                              int cols, int levels, double out[IO_ITK_GLCM_COUNT],
                                              double sd[IO_ITK_GLCM_COUNT], wb_error *err)
{
    if (glcm_prepare(img, mask, rows, cols, levels, err))
        return -1;
    return guarded(err, "GLCM features", [&]() {
        // Quantise here, so that ITK's histogram (bins of width (max + 1 - min) / levels over
        // [min, max + 1]) gets integer levels 0..levels-1 and one bin per level.
        auto im = make_image<FloatImage>(rows, cols);
        auto mk = make_image<FloatImage>(rows, cols);
        float *q = im->GetBufferPointer(), *m = mk->GetBufferPointer();
        size_t n = (size_t)rows * (size_t)cols;
        for (size_t i = 0; i < n; i++) {
            q[i] = (float)glcm_level(img[i], levels);
            m[i] = mask[i] ? 1.0f : 0.0f;
        }
        auto f = Tex::New();
        f->SetInput(im);
        f->SetMaskImage(mk);
        f->SetInsidePixelValue(1.0f);
        f->SetNumberOfBinsPerAxis((unsigned)levels);
        f->SetPixelValueMinMax(0.0f, (float)(levels - 1));
        auto req = Tex::FeatureNameVector::New();
        for (int k = 0; k < IO_ITK_GLCM_COUNT; k++)
            req->push_back(static_cast<uint8_t>(glcm_order[k]));
        f->SetRequestedFeatures(req);
        f->SetFastCalculations(false);
        f->Update();
        auto means = f->GetFeatureMeans();
        auto devs = f->GetFeatureStandardDeviations();
        for (int k = 0; k < IO_ITK_GLCM_COUNT; k++) {
            out[k] = means->GetElement((unsigned)k);
            if (sd)
                sd[k] = devs->GetElement((unsigned)k);
        }
        return 0;
    });
}

extern "C" const char *io_itk_version(void)
{
    return ITK_VERSION_STRING;
}
