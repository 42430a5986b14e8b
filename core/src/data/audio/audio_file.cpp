#include "losslab/data/audio/audio_file.h"

#include <sndfile.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>

#include "losslab/error.h"

namespace losslab {

namespace {

struct SndfileCloser {
    void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

} // namespace

AudioClip readAudio(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such audio file");
    SF_INFO info{};
    SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
    if (!file)
        throw Error(path + ": cannot read it as audio (" + std::string(sf_strerror(nullptr)) +
                    "); expected WAV, FLAC or NIST SPHERE");
    if (info.frames <= 0 || info.channels <= 0) throw Error(path + ": the audio file has no samples");
    AudioClip clip;
    clip.sampleRate = info.samplerate;
    clip.channels = info.channels;
    clip.source = path;
    std::vector<float> interleaved(static_cast<std::size_t>(info.frames) * static_cast<std::size_t>(info.channels));
    const sf_count_t read = sf_readf_float(file.get(), interleaved.data(), info.frames);
    if (read != info.frames || sf_error(file.get()) != SF_ERR_NO_ERROR)
        throw Error(path + ": the audio ends early: " + std::to_string(read) + " of the " + std::to_string(info.frames) +
                    " frames its header announces could be read (a truncated or damaged file?)");
    clip.samples.resize(static_cast<std::size_t>(info.frames));
    for (std::size_t i = 0; i < clip.samples.size(); ++i) {
        float sum = 0;
        for (int c = 0; c < info.channels; ++c) sum += interleaved[i * static_cast<std::size_t>(info.channels) + static_cast<std::size_t>(c)];
        clip.samples[i] = sum / static_cast<float>(info.channels);
    }
    return clip;
}

void requireSampleRate(const AudioClip& clip, int rate) {
    if (clip.sampleRate == rate) return;
    throw Error(clip.source + ": sampled at " + std::to_string(clip.sampleRate) + " Hz; the recipe needs " +
                std::to_string(rate) + " Hz. LossLab does not resample: convert the corpus, e.g. sox IN -r " +
                std::to_string(rate) + " OUT");
}

void writeAudio(const std::string& path, const std::vector<float>& samples, int sampleRate) {
    const std::string name = lower(path);
    SF_INFO info{};
    info.samplerate = sampleRate;
    info.channels = 1;
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".flac") == 0)
        info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    else if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".wav") == 0)
        info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    else
        throw Error(path + ": expected a .wav or .flac file name");
    SndfilePtr file(sf_open(path.c_str(), SFM_WRITE, &info));
    if (!file) throw Error(path + ": cannot write audio (" + std::string(sf_strerror(nullptr)) + ")");
    std::vector<float> clipped(samples.size());
    std::transform(samples.begin(), samples.end(), clipped.begin(), [](float v) { return std::clamp(v, -1.0f, 1.0f); });
    if (sf_writef_float(file.get(), clipped.data(), static_cast<sf_count_t>(clipped.size())) !=
        static_cast<sf_count_t>(clipped.size()))
        throw Error(path + ": cannot write audio (" + std::string(sf_strerror(file.get())) + ")");
}

} // namespace losslab
