#include "losslab/data/image/image_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <system_error>

#include "losslab/error.h"

#ifdef LOSSLAB_HAVE_IMAGE_READER
// libjpeg's header wants <cstdio> first; libpng's simplified API (1.6) reads and writes
// whole images without its setjmp-based error handling.
#include <csetjmp>
#include <jpeglib.h>
#include <jerror.h> // JWRN_JPEG_EOF
#include <png.h>
#endif

namespace losslab {

#ifdef LOSSLAB_HAVE_IMAGE_READER

namespace {

std::vector<unsigned char> readBytes(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such image file");
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) throw Error(path + ": cannot read the image file");
    return bytes;
}

bool isJpeg(const std::vector<unsigned char>& b) { return b.size() >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff; }

bool isPng(const std::vector<unsigned char>& b) {
    static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return b.size() >= 8 && std::equal(kSignature, kSignature + 8, b.begin());
}

// Whether a header declares more than kMaxImagePixels: checked before the decoder allocates.
bool tooManyPixels(std::uint64_t width, std::uint64_t height) {
    return width * height > static_cast<std::uint64_t>(kMaxImagePixels);
}

[[noreturn]] void refuseSize(const std::string& path, const char* format, std::uint64_t width, std::uint64_t height) {
    throw Error(path + ": the " + format + " header declares " + std::to_string(width) + "x" + std::to_string(height) +
                " pixels; expected at most " + std::to_string(kMaxImagePixels) +
                " (16384x16384), the most LossLab decodes (a damaged header, or an image to shrink first)");
}

// libjpeg reports errors through error_exit, which must not return: it jumps back to the
// setjmp in the function that called libjpeg. No C++ object is created between the setjmp
// and a call into libjpeg, so the jump skips no destructor.
struct JpegErrors {
    jpeg_error_mgr pub{};
    std::jmp_buf jump{};
    char message[JMSG_LENGTH_MAX] = {};
    bool truncated = false;
};

void jpegErrorExit(j_common_ptr cinfo) {
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, errors->message);
    std::longjmp(errors->jump, 1);
}

// Warnings (a few stray bytes before a marker, common in ImageNet) are harmless, but image
// data that stops early decodes as grey from there on: a file that ends early (JPEG_EOF), or
// compressed data that stops at a marker, such as an end-of-image a tool wrote after a cut
// (HIT_MARKER: libjpeg warns only when the bits a block needs are not there). Those are errors.
void jpegEmitMessage(j_common_ptr cinfo, int level) {
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    const int code = cinfo->err->msg_code;
    if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) errors->truncated = true;
}

struct DecompressGuard {
    jpeg_decompress_struct* cinfo;
    ~DecompressGuard() { jpeg_destroy_decompress(cinfo); }
};

struct CompressGuard {
    jpeg_compress_struct* cinfo;
    ~CompressGuard() { jpeg_destroy_compress(cinfo); }
};

// n/8 >= factor, n in 1..8.
unsigned scaleNumerator(double factor) {
    if (!(factor > 0)) return 8;
    return static_cast<unsigned>(std::clamp(std::ceil(factor * 8.0 - 1e-9), 1.0, 8.0));
}

enum class JpegResult { Decoded, Damaged, TooLarge };

// Fills `out`; Damaged with libjpeg's message in errors.message; TooLarge with only
// out.fullWidth and out.fullHeight set, when they make more than kMaxImagePixels.
JpegResult decodeJpeg(const std::vector<unsigned char>& bytes, const DecodeScale& scale, DecodedImage& out,
                std::vector<unsigned char>& row, JpegErrors& errors) {
    jpeg_decompress_struct cinfo{};
    cinfo.err = jpeg_std_error(&errors.pub);
    errors.pub.error_exit = jpegErrorExit;
    errors.pub.emit_message = jpegEmitMessage;
    jpeg_create_decompress(&cinfo);
    DecompressGuard guard{&cinfo};
    if (setjmp(errors.jump)) return JpegResult::Damaged;
    jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    out.fullWidth = static_cast<int>(cinfo.image_width);
    out.fullHeight = static_cast<int>(cinfo.image_height);
    // By the full size even when decoded shrunk: a progressive file's coefficients are held
    // whole, at full size, whatever the output scale.
    if (tooManyPixels(cinfo.image_width, cinfo.image_height)) return JpegResult::TooLarge;
    cinfo.scale_num = scale ? scaleNumerator(scale(out.fullWidth, out.fullHeight)) : 8;
    cinfo.scale_denom = 8;
    const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    const bool grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    cinfo.out_color_space = cmyk ? JCS_CMYK : grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const int width = static_cast<int>(cinfo.output_width);
    const int components = cinfo.output_components;
    out.image.width = width;
    out.image.height = static_cast<int>(cinfo.output_height);
    out.image.pixels.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(out.image.height) * 3);
    row.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(components));
    const bool adobeInverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        std::uint8_t* dst = out.image.pixels.data() + static_cast<std::size_t>(cinfo.output_scanline) * width * 3;
        if (components == 3) {
            JSAMPROW target = dst;
            jpeg_read_scanlines(&cinfo, &target, 1);
            continue;
        }
        JSAMPROW target = row.data();
        jpeg_read_scanlines(&cinfo, &target, 1);
        for (int x = 0; x < width; ++x) {
            if (components == 1) {
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[static_cast<std::size_t>(x)];
                continue;
            }
            const unsigned char* p = &row[static_cast<std::size_t>(x) * 4];
            // Adobe's CMYK is stored inverted (255 = no ink); plain CMYK is not.
            const int k = adobeInverted ? p[3] : 255 - p[3];
            for (int c = 0; c < 3; ++c) {
                const int v = adobeInverted ? p[c] : 255 - p[c];
                dst[3 * x + c] = static_cast<std::uint8_t>((v * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    return JpegResult::Decoded;
}

DecodedImage decodePng(const std::string& path, const std::vector<unsigned char>& bytes) {
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
        throw Error(path + ": a damaged PNG (" + png.message + ")");
    if (tooManyPixels(png.width, png.height)) {
        png_image_free(&png);
        refuseSize(path, "PNG", png.width, png.height);
    }
    // RGBA, then the alpha channel dropped, as PIL's convert("RGB") does (torchvision's loader).
    png.format = PNG_FORMAT_RGBA;
    std::vector<unsigned char> rgba(PNG_IMAGE_SIZE(png));
    if (!png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr)) {
        const std::string message = png.message;
        png_image_free(&png);
        throw Error(path + ": a damaged or truncated PNG (" + message + ")");
    }
    DecodedImage out;
    out.fullWidth = out.image.width = static_cast<int>(png.width);
    out.fullHeight = out.image.height = static_cast<int>(png.height);
    const std::size_t count = static_cast<std::size_t>(png.width) * png.height;
    out.image.pixels.resize(count * 3);
    for (std::size_t i = 0; i < count; ++i)
        for (int c = 0; c < 3; ++c) out.image.pixels[3 * i + c] = rgba[4 * i + c];
    return out;
}

} // namespace

bool imageReaderAvailable() { return true; }

DecodedImage readImage(const std::string& path, const DecodeScale& scale) {
    const std::vector<unsigned char> bytes = readBytes(path);
    if (isPng(bytes)) return decodePng(path, bytes);
    if (!isJpeg(bytes))
        throw Error(path + (bytes.empty() ? ": the file is empty" : ": not a JPEG or PNG image (by its first bytes)") +
                    "; expected JPEG or PNG");
    DecodedImage out;
    std::vector<unsigned char> row;
    JpegErrors errors;
    const JpegResult result = decodeJpeg(bytes, scale, out, row, errors);
    if (result == JpegResult::Damaged) throw Error(path + ": a damaged JPEG (" + errors.message + ")");
    if (result == JpegResult::TooLarge)
        refuseSize(path, "JPEG", static_cast<std::uint32_t>(out.fullWidth), static_cast<std::uint32_t>(out.fullHeight));
    if (errors.truncated)
        throw Error(path + ": the JPEG's image data ends early (a truncated or damaged file); "
                           "the rest of the picture would decode as grey");
    if (out.image.width <= 0 || out.image.height <= 0) throw Error(path + ": the image has no pixels");
    return out;
}

namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

bool encodeJpeg(std::FILE* file, const RgbImage& image, int quality, JpegColor color, const std::vector<std::uint8_t>& cmyk,
                std::vector<unsigned char>& row, JpegErrors& errors) {
    jpeg_compress_struct cinfo{};
    cinfo.err = jpeg_std_error(&errors.pub);
    errors.pub.error_exit = jpegErrorExit;
    jpeg_create_compress(&cinfo);
    CompressGuard guard{&cinfo};
    if (setjmp(errors.jump)) return false;
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = static_cast<JDIMENSION>(image.width);
    cinfo.image_height = static_cast<JDIMENSION>(image.height);
    cinfo.input_components = color == JpegColor::Grey ? 1 : color == JpegColor::Cmyk ? 4 : 3;
    cinfo.in_color_space = color == JpegColor::Grey ? JCS_GRAYSCALE : color == JpegColor::Cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    const auto width = static_cast<std::size_t>(image.width);
    row.resize(width * static_cast<std::size_t>(cinfo.input_components));
    while (cinfo.next_scanline < cinfo.image_height) {
        const std::size_t y = cinfo.next_scanline;
        for (std::size_t x = 0; x < width; ++x) {
            if (color == JpegColor::Cmyk) {
                std::copy_n(&cmyk[(y * width + x) * 4], 4, &row[x * 4]);
            } else {
                const std::uint8_t* p = &image.pixels[(y * width + x) * 3];
                if (color == JpegColor::Grey)
                    row[x] = static_cast<unsigned char>((p[0] + p[1] + p[2] + 1) / 3);
                else
                    std::copy_n(p, 3, &row[x * 3]);
            }
        }
        JSAMPROW target = row.data();
        jpeg_write_scanlines(&cinfo, &target, 1);
    }
    jpeg_finish_compress(&cinfo);
    return true;
}

void requirePixels(const std::string& path, const RgbImage& image) {
    if (image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3)
        throw Error(path + ": cannot write an image of " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " pixels from " + std::to_string(image.pixels.size()) + " bytes");
}

} // namespace

void writeJpeg(const std::string& path, const RgbImage& image, int quality, JpegColor color,
               const std::vector<std::uint8_t>& cmyk) {
    requirePixels(path, image);
    if (color == JpegColor::Cmyk && cmyk.size() != image.pixels.size() / 3 * 4)
        throw Error(path + ": CMYK needs 4 bytes per pixel");
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
    if (!file) throw Error(path + ": cannot create the file");
    std::vector<unsigned char> row;
    JpegErrors errors;
    if (!encodeJpeg(file.get(), image, std::clamp(quality, 1, 100), color, cmyk, row, errors))
        throw Error(path + ": cannot write the JPEG (" + errors.message + ")");
    if (std::fflush(file.get()) != 0) throw Error(path + ": cannot write the file");
}

void writePng(const std::string& path, const RgbImage& image) {
    requirePixels(path, image);
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(image.width);
    png.height = static_cast<png_uint_32>(image.height);
    png.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&png, path.c_str(), 0, image.pixels.data(), 0, nullptr))
        throw Error(path + ": cannot write the PNG (" + png.message + ")");
}

#else // no image reader in this build

namespace {

[[noreturn]] void notBuilt(const std::string& path) {
    throw Error(path + ": this LossLab was built without the image reader (libjpeg-dev and libpng-dev; "
                       "scripts/install-deps.sh installs them, then rebuild)");
}

} // namespace

bool imageReaderAvailable() { return false; }

DecodedImage readImage(const std::string& path, const DecodeScale&) { notBuilt(path); }

void writeJpeg(const std::string& path, const RgbImage&, int, JpegColor, const std::vector<std::uint8_t>&) { notBuilt(path); }

void writePng(const std::string& path, const RgbImage&) { notBuilt(path); }

#endif

} // namespace losslab
