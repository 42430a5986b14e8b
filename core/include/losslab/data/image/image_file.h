#pragma once
// Reading images: JPEG through libjpeg(-turbo) and PNG through libpng (libjpeg-dev and
// libpng-dev, installed by scripts/install-deps.sh; optional at build time: a build without
// them has no image reader, and the image-folder tasks say so). The format is taken from the
// file's first bytes, not its name (ImageNet has a PNG named .JPEG). Every error is a
// losslab::Error naming the file. Torch-free; safe to call from several threads at once.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace losslab {

// 8-bit RGB, row-major, channels interleaved: pixel (x, y) channel c is
// pixels[(y * width + x) * 3 + c].
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;
};

// How far a JPEG may be shrunk while it is decoded (libjpeg's DCT scaling, n/8 for n in 1..8),
// given its full size: the smallest factor in (0, 1] that still gives the caller enough
// pixels. Decoding at 1/2 or 1/4 is several times faster than decoding the whole image.
using DecodeScale = std::function<double(int fullWidth, int fullHeight)>;

struct DecodedImage {
    RgbImage image;     // possibly shrunk (JPEG only)
    int fullWidth = 0;  // the file's own size
    int fullHeight = 0;
};

// The most pixels (width x height, as the file's header declares them) readImage decodes:
// 2^28, 16384 x 16384. The decoders allocate from the header alone, before any pixel data is
// read, so a damaged or crafted file of a few hundred bytes declaring 60000 x 60000 would make
// each decode thread ask for gigabytes. The limit is far above real photographs (a
// 200-megapixel camera's 16320 x 12240 is 2^27.6) and bounds one decode by its size: a PNG
// needs 7 bytes a pixel (RGBA, then RGB: 1.75 GiB at the limit), a JPEG 3 for its pixels plus,
// when progressive, up to 6 for libjpeg's coefficients (2.25 GiB).
constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 28;

// The whole file as RGB: grey images get three equal channels, an alpha channel is dropped
// (PNG: composited on black), CMYK JPEGs are converted (Adobe's inverted CMYK, as Photoshop
// writes it). With `scale`, a JPEG is decoded at the smallest n/8 >= scale(fullWidth,
// fullHeight); a PNG always at full size. Errors: missing or unreadable file, a format other
// than JPEG or PNG, a damaged or truncated file, a header declaring more than kMaxImagePixels
// (refused before anything is decoded; `scale` is not asked).
DecodedImage readImage(const std::string& path, const DecodeScale& scale = {});

// Whether this build has the image reader (false: readImage throws Error saying so).
bool imageReaderAvailable();

// For tests and generated data sets. JPEG colour of the written file.
enum class JpegColor { Rgb, Grey, Cmyk };
// Writes `image` as a baseline JPEG of `quality` (1..100). Grey: the mean of the channels;
// Cmyk: the bytes of `cmyk` (4 per pixel, as stored, with an Adobe marker) instead of `image`.
void writeJpeg(const std::string& path, const RgbImage& image, int quality, JpegColor color = JpegColor::Rgb,
               const std::vector<std::uint8_t>& cmyk = {});
void writePng(const std::string& path, const RgbImage& image);

} // namespace losslab
