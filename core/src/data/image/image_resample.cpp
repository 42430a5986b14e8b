#include "losslab/data/image/image_resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace losslab {

namespace {

// For each output pixel along one axis: the first source pixel it reads and its weights.
struct Taps {
    std::vector<int> first;
    std::vector<int> count;
    std::vector<float> weights; // `width` per output pixel
    int width = 0;
};

// PIL's bilinear filter: a triangle of support 1, widened by the shrink factor.
Taps makeTaps(double origin, double extent, int outSize, int inSize) {
    const double scale = extent / outSize;
    const double widen = std::max(scale, 1.0);
    const double support = widen;
    Taps t;
    t.width = static_cast<int>(std::ceil(support)) * 2 + 1;
    t.first.resize(static_cast<std::size_t>(outSize));
    t.count.resize(static_cast<std::size_t>(outSize));
    t.weights.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(t.width), 0.0F);
    for (int i = 0; i < outSize; ++i) {
        const double center = origin + (i + 0.5) * scale;
        const int lo = std::clamp(static_cast<int>(std::floor(center - support)), 0, inSize - 1);
        const int hi = std::clamp(static_cast<int>(std::ceil(center + support)), lo + 1, inSize);
        const int n = std::min(hi - lo, t.width);
        double total = 0;
        float* w = &t.weights[static_cast<std::size_t>(i) * static_cast<std::size_t>(t.width)];
        for (int k = 0; k < n; ++k) {
            const double d = std::abs((lo + k + 0.5 - center) / widen);
            const double v = d < 1.0 ? 1.0 - d : 0.0;
            w[k] = static_cast<float>(v);
            total += v;
        }
        if (total > 0) {
            for (int k = 0; k < n; ++k) w[k] = static_cast<float>(w[k] / total);
        } else { // the box lies outside the image: the nearest pixel
            const int nearest = std::clamp(static_cast<int>(std::floor(center)), lo, lo + n - 1);
            w[nearest - lo] = 1.0F;
        }
        t.first[static_cast<std::size_t>(i)] = lo;
        t.count[static_cast<std::size_t>(i)] = n;
    }
    return t;
}

} // namespace

void resampleCrop(const RgbImage& image, const CropBox& box, int outWidth, int outHeight, bool flip,
                  std::uint8_t* out) {
    const Taps cols = makeTaps(box.x, box.width, outWidth, image.width);
    const Taps rows = makeTaps(box.y, box.height, outHeight, image.height);
    const int rowLo = rows.first.front();
    int rowHi = rowLo;
    for (int i = 0; i < outHeight; ++i)
        rowHi = std::max(rowHi, rows.first[static_cast<std::size_t>(i)] + rows.count[static_cast<std::size_t>(i)]);

    // Horizontal pass over the source rows the vertical pass reads: [rowLo, rowHi) x outWidth x 3.
    std::vector<float> across(static_cast<std::size_t>(rowHi - rowLo) * static_cast<std::size_t>(outWidth) * 3);
    const std::size_t stride = static_cast<std::size_t>(image.width) * 3;
    for (int y = rowLo; y < rowHi; ++y) {
        const std::uint8_t* src = image.pixels.data() + static_cast<std::size_t>(y) * stride;
        float* dst = &across[static_cast<std::size_t>(y - rowLo) * static_cast<std::size_t>(outWidth) * 3];
        for (int j = 0; j < outWidth; ++j) {
            const auto jj = static_cast<std::size_t>(j);
            const float* w = &cols.weights[jj * static_cast<std::size_t>(cols.width)];
            const std::uint8_t* p = src + static_cast<std::size_t>(cols.first[jj]) * 3;
            float r = 0, g = 0, b = 0;
            for (int k = 0; k < cols.count[jj]; ++k, p += 3) {
                r += w[k] * p[0];
                g += w[k] * p[1];
                b += w[k] * p[2];
            }
            dst[3 * jj] = r;
            dst[3 * jj + 1] = g;
            dst[3 * jj + 2] = b;
        }
    }

    const std::size_t plane = static_cast<std::size_t>(outWidth) * static_cast<std::size_t>(outHeight);
    for (int i = 0; i < outHeight; ++i) {
        const auto ii = static_cast<std::size_t>(i);
        const float* w = &rows.weights[ii * static_cast<std::size_t>(rows.width)];
        const int first = rows.first[ii] - rowLo;
        for (int j = 0; j < outWidth; ++j) {
            const int source = flip ? outWidth - 1 - j : j;
            float sum[3] = {0, 0, 0};
            for (int k = 0; k < rows.count[ii]; ++k) {
                const float* p = &across[(static_cast<std::size_t>(first + k) * static_cast<std::size_t>(outWidth) +
                                          static_cast<std::size_t>(source)) * 3];
                for (int c = 0; c < 3; ++c) sum[c] += w[k] * p[c];
            }
            for (int c = 0; c < 3; ++c)
                out[static_cast<std::size_t>(c) * plane + ii * static_cast<std::size_t>(outWidth) + static_cast<std::size_t>(j)] =
                    static_cast<std::uint8_t>(std::clamp(std::lround(sum[c]), 0L, 255L));
        }
    }
}

CropBox randomResizedCropBox(int width, int height, const double* u, double minScale, double maxScale) {
    const double area = static_cast<double>(width) * height;
    const double logLo = std::log(3.0 / 4.0);
    const double logHi = std::log(4.0 / 3.0);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double* d = u + 4 * attempt;
        const double target = area * (minScale + d[0] * (maxScale - minScale));
        const double ratio = std::exp(logLo + d[1] * (logHi - logLo));
        const auto w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
        const auto h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            // randint(0, width - w + 1): each offset equally likely.
            const int x = std::min(static_cast<int>(d[2] * (width - w + 1)), width - w);
            const int y = std::min(static_cast<int>(d[3] * (height - h + 1)), height - h);
            return {static_cast<double>(x), static_cast<double>(y), static_cast<double>(w), static_cast<double>(h)};
        }
    }
    // The fallback: the largest centred box whose ratio is in [3/4, 4/3].
    const double inRatio = static_cast<double>(width) / height;
    int w = width;
    int h = height;
    if (inRatio < 3.0 / 4.0)
        h = static_cast<int>(std::lround(w / (3.0 / 4.0)));
    else if (inRatio > 4.0 / 3.0)
        w = static_cast<int>(std::lround(h * (4.0 / 3.0)));
    return {static_cast<double>((width - w) / 2), static_cast<double>((height - h) / 2), static_cast<double>(w),
            static_cast<double>(h)};
}

CropBox centerCropBox(int width, int height, int resize, int crop) {
    // Resize(resize) then CenterCrop(crop), mapped back onto the original pixels.
    const double scale = static_cast<double>(std::min(width, height)) / resize;
    const double side = crop * scale;
    return {(width - side) / 2.0, (height - side) / 2.0, side, side};
}

} // namespace losslab
