#include "folder_image_transform.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "losslab/data/image/image_file.h"
#include "losslab/data/image/image_resample.h"
#include "losslab/error.h"
#include "losslab/training/compute_setup.h"

namespace losslab::vision {

namespace {

constexpr int kMaxAutoThreads = 16;

} // namespace

void checkFolderImageOptions(const FolderImageOptions& options) {
    if (options.size < 16) throw Error("data.image_size: expected at least 16, got " + std::to_string(options.size));
    if (options.resize < options.size)
        throw Error("data.resize: expected at least data.image_size (" + std::to_string(options.size) + "), got " +
                    std::to_string(options.resize));
    if (!(options.minScale > 0 && options.minScale <= 1))
        throw Error("data.min_scale: expected a fraction in (0, 1], got " + std::to_string(options.minScale));
}

void setImageFiles(DataBundle& data, const std::vector<std::string>& files) {
    std::size_t bytes = 0;
    for (const std::string& f : files) bytes += f.size();
    torch::Tensor paths = torch::empty({static_cast<std::int64_t>(bytes)}, torch::kByte);
    torch::Tensor offsets = torch::empty({static_cast<std::int64_t>(files.size()) + 1}, torch::kLong);
    auto* p = paths.data_ptr<std::uint8_t>();
    auto* o = offsets.data_ptr<std::int64_t>();
    std::int64_t at = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        o[i] = at;
        std::copy(files[i].begin(), files[i].end(), p + at);
        at += static_cast<std::int64_t>(files[i].size());
    }
    o[files.size()] = at;
    data.tensors["image_paths"] = paths;
    data.tensors["image_path_offsets"] = offsets;
}

namespace {

const torch::Tensor& loaderTensor(const DataBundle& data, const std::string& name) {
    const auto it = data.tensors.find(name);
    if (it == data.tensors.end())
        throw Error("image folder transform: the loaded data has no image file list (" + name + ")");
    return it->second;
}

} // namespace

ImageFileList::ImageFileList(const DataBundle& data)
    : m_paths(loaderTensor(data, "image_paths")), m_offsets(loaderTensor(data, "image_path_offsets")) {}

std::string ImageFileList::at(std::int64_t row) const {
    if (row < 0 || row >= size())
        throw Error("image folder transform: row " + std::to_string(row) + " is not in the file list of " +
                    std::to_string(size()));
    const auto* p = reinterpret_cast<const char*>(m_paths.data_ptr<std::uint8_t>());
    const auto* o = m_offsets.data_ptr<std::int64_t>();
    return std::string(p + o[row], p + o[row + 1]);
}

FolderImageTransform::FolderImageTransform(ImageFileList files,
                                           const ChannelStats& stats, const FolderImageOptions& options,
                                           const torch::Device& device)
    : m_files(std::move(files)),
      m_options(options),
      m_threads(options.threads > 0 ? options.threads : std::min(usableCores(), kMaxAutoThreads)),
      m_device(device),
      m_mean(channelConstant(stats.mean, device)),
      m_std(channelConstant(stats.std, device)) {
    checkFolderImageOptions(options);
}

torch::Tensor FolderImageTransform::decodeBatch(const torch::Tensor& rows, const torch::Tensor& draws) const {
    const torch::Tensor index = rows.to(torch::kCPU, torch::kLong).contiguous();
    const std::int64_t count = index.numel();
    const int size = m_options.size;
    // Page-locked on a CUDA run, so that the copy to the device does not make the host wait.
    torch::Tensor out = torch::empty({count, 3, size, size},
                                     torch::TensorOptions().dtype(torch::kByte).pinned_memory(m_device.is_cuda()));
    const torch::Tensor u = draws.defined() ? draws.to(torch::kDouble).contiguous() : draws;
    if (u.defined() && (u.dim() != 2 || u.size(0) != count || u.size(1) != kRandomCropDraws + 1))
        throw Error("image folder transform: expected [batch, " + std::to_string(kRandomCropDraws + 1) + "] draws");
    const auto* rowData = index.data_ptr<std::int64_t>();
    std::uint8_t* outData = out.data_ptr<std::uint8_t>();
    const auto imageBytes = static_cast<std::size_t>(3) * static_cast<std::size_t>(size) * static_cast<std::size_t>(size);

    auto decodeOne = [&](std::int64_t b) {
        const std::string file = m_files.at(rowData[b]);
        const double* d = u.defined() ? u.data_ptr<double>() + b * u.size(1) : nullptr;
        auto cropOf = [&](int width, int height) {
            return d ? randomResizedCropBox(width, height, d, m_options.minScale)
                     : centerCropBox(width, height, m_options.resize, size);
        };
        // The crop on the full image decides how far a JPEG may be shrunk while decoding: the
        // crop keeps at least size x size pixels, so the resize still only shrinks. A PNG is
        // decoded whole without asking.
        CropBox box;
        bool asked = false;
        auto scale = [&](int width, int height) {
            box = cropOf(width, height);
            asked = true;
            return std::max(size / box.width, size / box.height);
        };
        const DecodedImage decoded = readImage(file, scale);
        if (!asked) box = cropOf(decoded.fullWidth, decoded.fullHeight);
        // A JPEG decoded at n/8: the box in the decoded image's pixels.
        const double sx = static_cast<double>(decoded.image.width) / decoded.fullWidth;
        const double sy = static_cast<double>(decoded.image.height) / decoded.fullHeight;
        const CropBox scaled{box.x * sx, box.y * sy, box.width * sx, box.height * sy};
        const bool flip = d && d[kRandomCropDraws] < 0.5;
        resampleCrop(decoded.image, scaled, size, size, flip, outData + static_cast<std::size_t>(b) * imageBytes);
    };

    const int threads = static_cast<int>(std::min<std::int64_t>(m_threads, count));
    if (threads <= 1) {
        for (std::int64_t b = 0; b < count; ++b) decodeOne(b);
        return out;
    }
    std::atomic<std::int64_t> next{0};
    std::exception_ptr failure;
    std::mutex failureMutex;
    std::vector<std::thread> workers;
    workers.reserve(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            for (std::int64_t b = next++; b < count; b = next++) {
                try {
                    decodeOne(b);
                } catch (...) {
                    std::lock_guard<std::mutex> lock(failureMutex);
                    if (!failure) failure = std::current_exception();
                    next = count; // stop the others early
                }
            }
        });
    for (auto& w : workers) w.join();
    if (failure) std::rethrow_exception(failure);
    return out;
}

ModelInput FolderImageTransform::apply(const TensorSplit& batch, bool training, at::Generator& gen) const {
    if (!batch.features.defined() || batch.features.dim() != 1)
        throw Error("image folder transform: expected a batch of row numbers [batch]");
    torch::Tensor draws;
    if (training && m_options.augment)
        draws = at::rand({batch.features.size(0), kRandomCropDraws + 1}, gen, torch::TensorOptions().dtype(torch::kDouble));
    const torch::Tensor images = decodeBatch(batch.features, draws);
    ModelInput input;
    input.features = images.to(m_device, /*non_blocking=*/true).to(torch::kFloat).div_(255.0).sub_(m_mean).div_(m_std);
    return input;
}

} // namespace losslab::vision
