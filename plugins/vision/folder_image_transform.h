#pragma once
// The input transform of the image-folder tasks (ImageNet): the stored features are row
// numbers into the data set's list of image files (on the CPU: InputTransform::featuresOnHost),
// and apply() reads, decodes, crops and resizes each batch's images on several threads, then
// copies the uint8 batch to the device and normalises it there. Training batches get
// torchvision's RandomResizedCrop and a left-right flip; evaluation batches the shorter side
// resized to `resize` and the centred size x size crop. Every random draw comes from the run's
// generator on the calling thread, before any image is read, so the batch is the same for any
// number of decode threads. On a GPU, the host decodes the next batch while the device trains
// on this one (the step does not wait for the device).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "losslab/tasks/task.h"
#include "vision_transforms.h"

namespace losslab::vision {

struct FolderImageOptions {
    int size = 224;         // the model's input: size x size
    int resize = 256;       // evaluation: the shorter side before the centred crop
    bool augment = true;    // training: random resized crop + flip (false: the evaluation crop)
    double minScale = 0.08; // the random crop's smallest area fraction
    int threads = 0;        // decode threads; 0: the usable cores, at most 16
};

// Error naming the data.* key of the first value out of range (image size under 16, resize
// under the image size, a crop scale outside (0, 1]).
void checkFolderImageOptions(const FolderImageOptions& options);

// The image files of a data set, as the loader stored them in its bundle: the paths' bytes and
// where each starts. Shares the bundle's tensors (no copy per run: ImageNet's 1.33 million paths
// are ~100 MB as strings).
class ImageFileList {
public:
    // The list of a DataBundle made with setImageFiles; Error when it has none.
    explicit ImageFileList(const DataBundle& data);
    std::int64_t size() const { return m_offsets.numel() - 1; }
    std::string at(std::int64_t row) const; // Error for a row outside [0, size())

private:
    torch::Tensor m_paths;   // uint8, every path's bytes one after another
    torch::Tensor m_offsets; // int64 [size() + 1]
};

// Packs `files` into the bundle's loader tensors ("image_paths", "image_path_offsets").
void setImageFiles(DataBundle& data, const std::vector<std::string>& files);

class FolderImageTransform : public InputTransform {
public:
    FolderImageTransform(ImageFileList files, const ChannelStats& stats,
                         const FolderImageOptions& options, const torch::Device& device);
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;
    bool featuresOnHost() const override { return true; }

    // The uint8 images [B, 3, size, size] of rows `rows` (CPU int64), on the CPU: what apply()
    // normalises. `draws`: [B, kRandomCropDraws + 1] doubles in [0, 1) for training crops (the
    // last one the flip), undefined for the evaluation crop.
    torch::Tensor decodeBatch(const torch::Tensor& rows, const torch::Tensor& draws) const;

private:
    ImageFileList m_files;
    FolderImageOptions m_options;
    int m_threads;
    torch::Device m_device;
    torch::Tensor m_mean; // [1, 3, 1, 1] float on the device
    torch::Tensor m_std;
};

} // namespace losslab::vision
