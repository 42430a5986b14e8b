#pragma once
// Cropping and resizing decoded images for a model, torch-free: what torchvision's
// RandomResizedCrop, Resize and CenterCrop do to a PIL image, with PIL's antialiased bilinear
// filter (a triangle filter widened by the shrink factor, so a 4x shrink averages and does
// not alias). Deterministic; safe from several threads at once.
#include <cstdint>

#include "losslab/data/image/image_file.h"

namespace losslab {

// A region of an image in pixel units (fractional edges allowed): columns [x, x + width),
// rows [y, y + height).
struct CropBox {
    double x = 0;
    double y = 0;
    double width = 0;
    double height = 0;
};

// `box` of `image` resized to outWidth x outHeight, mirrored left-right when `flip`, written
// channels-first (plane c, row i, column j at out[(c * outHeight + i) * outWidth + j]), 3 planes.
void resampleCrop(const RgbImage& image, const CropBox& box, int outWidth, int outHeight, bool flip,
                  std::uint8_t* out);

// torchvision's RandomResizedCrop box for a width x height image, from kRandomCropDraws
// uniform draws in [0, 1) (`u`): up to ten tries of (area fraction in [minScale, maxScale], log aspect ratio in
// [log 3/4, log 4/3], column, row), each kept when it fits, else the centre crop of the
// largest box with a ratio in [3/4, 4/3]. The draws are made by the caller (the run's
// generator), so the box depends only on them and the image size.
constexpr int kRandomCropDraws = 40;
CropBox randomResizedCropBox(int width, int height, const double* u, double minScale, double maxScale = 1.0);

// The evaluation crop: the image scaled so that its shorter side is `resize`, then the
// centred crop x crop square, as a box of the original image.
CropBox centerCropBox(int width, int height, int resize, int crop);

} // namespace losslab
