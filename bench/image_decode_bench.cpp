// Decoding and cropping images for a model, per image on one thread: LossLab's pipeline of the
// image-folder tasks (readImage with DCT shrinking, torchvision's crop boxes, the antialiased
// resize). bench/image_decode_bench.py times PIL on the same files; bench/run_image_decode_bench.sh
// runs both (docs/benchmarks.md).
//   losslab-bench-image-decode write DIR COUNT   ImageNet-sized JPEGs (500x375, quality 90) into DIR
//   losslab-bench-image-decode time DIR REPEATS  ms per image, training and evaluation crops
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "losslab/data/image/image_file.h"
#include "losslab/data/image/image_resample.h"

namespace {

using namespace losslab;
namespace fs = std::filesystem;

constexpr int kSize = 224;

std::vector<std::string> jpegsIn(const std::string& dir) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".jpg") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

double msPerImage(const std::vector<std::string>& files, bool training, int repeats) {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<std::uint8_t> out(3 * kSize * kSize);
    std::vector<double> samples;
    for (int r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (const std::string& f : files) {
            std::vector<double> u(kRandomCropDraws + 1);
            for (double& x : u) x = uniform(rng);
            CropBox box;
            const DecodedImage d = readImage(f, [&](int w, int h) {
                box = training ? randomResizedCropBox(w, h, u.data(), 0.08) : centerCropBox(w, h, 256, kSize);
                return std::max(kSize / box.width, kSize / box.height);
            });
            const double sx = static_cast<double>(d.image.width) / d.fullWidth;
            const double sy = static_cast<double>(d.image.height) / d.fullHeight;
            resampleCrop(d.image, {box.x * sx, box.y * sy, box.width * sx, box.height * sy}, kSize, kSize,
                         training && u[kRandomCropDraws] < 0.5, out.data());
        }
        samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
                          static_cast<double>(files.size()));
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

void writeImages(const std::string& dir, int count) {
    fs::create_directories(dir);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> noise(-20, 20);
    for (int i = 0; i < count; ++i) {
        // Smooth shapes plus noise: JPEG work like a photograph's, not a flat image's.
        RgbImage image{500, 375, std::vector<std::uint8_t>(500 * 375 * 3)};
        for (int y = 0; y < 375; ++y)
            for (int x = 0; x < 500; ++x)
                for (int c = 0; c < 3; ++c) {
                    const double wave = 80 * std::sin(0.02 * (x + 37 * i) * (c + 1)) * std::cos(0.03 * y);
                    image.pixels[static_cast<std::size_t>((y * 500 + x) * 3 + c)] =
                        static_cast<std::uint8_t>(std::clamp(128 + static_cast<int>(wave) + noise(rng), 0, 255));
                }
        writeJpeg(dir + "/img" + std::to_string(1000 + i) + ".jpg", image, 90);
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: losslab-bench-image-decode write DIR COUNT | time DIR REPEATS\n";
        return 2;
    }
    const std::string mode = argv[1];
    const std::string dir = argv[2];
    const int n = std::atoi(argv[3]);
    try {
        if (mode == "write") {
            writeImages(dir, n);
            return 0;
        }
        const std::vector<std::string> files = jpegsIn(dir);
        std::cout << "train_ms " << msPerImage(files, true, n) << "\n";
        std::cout << "eval_ms " << msPerImage(files, false, n) << "\n";
    } catch (const std::exception& e) {
        std::cerr << "losslab-bench-image-decode: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
