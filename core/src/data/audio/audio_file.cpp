#include "losslab/data/audio/audio_file.h"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
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

// What a header says about the bytes of samples after it, against what the file holds.
struct AnnouncedData {
    std::uint64_t announced = 0;  // bytes of samples the header announces
    std::uint64_t present = 0;    // bytes the file holds from the first sample on
    std::uint64_t frameBytes = 0; // bytes per frame; 0 where a frame is not a fixed number of bytes
};

// Up to `count` bytes at `offset`; fewer at the end of the file.
std::string bytesAt(std::ifstream& in, std::uint64_t offset, std::size_t count) {
    std::string out(count, '\0');
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(out.data(), static_cast<std::streamsize>(count));
    out.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    return out;
}

std::uint64_t unsignedAt(const std::string& bytes, std::size_t at, std::size_t width, bool bigEndian) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) {
        const auto byte = static_cast<unsigned char>(bytes[bigEndian ? at + i : at + width - 1 - i]);
        v = (v << 8) | byte;
    }
    return v;
}

// A WAV file (RIFF, RIFX, RF64 or BW64 holding WAVE): the data chunk's size against the bytes
// after its header. nullopt when the file is not one, has no data chunk, or its data size is
// 0xFFFFFFFF without an RF64 ds64 chunk (a streaming writer's "unknown": libsndfile then reads to
// the end of the file, and a cut cannot be told from the end). A data size of 0 is returned as
// announced: libsndfile reads no samples from such a file.
std::optional<AnnouncedData> wavData(std::ifstream& in, std::uint64_t fileSize) {
    const std::string riff = bytesAt(in, 0, 12);
    if (riff.size() < 12 || riff.compare(8, 4, "WAVE") != 0) return std::nullopt;
    const std::string form = riff.substr(0, 4);
    if (form != "RIFF" && form != "RIFX" && form != "RF64" && form != "BW64") return std::nullopt;
    const bool bigEndian = form == "RIFX";
    const bool ds64Form = form == "RF64" || form == "BW64";
    std::optional<std::uint64_t> ds64DataSize;
    std::uint64_t frameBytes = 0;
    std::uint64_t pos = 12;
    while (pos + 8 <= fileSize) {
        const std::string head = bytesAt(in, pos, 8);
        if (head.size() < 8) break;
        const std::string id = head.substr(0, 4);
        const std::uint64_t size = unsignedAt(head, 4, 4, bigEndian);
        if (id == "data") {
            AnnouncedData data;
            data.present = fileSize - (pos + 8);
            data.frameBytes = frameBytes;
            if (size == 0xFFFFFFFFu) {
                if (!ds64Form || !ds64DataSize) return std::nullopt;
                data.announced = *ds64DataSize;
            } else {
                data.announced = size;
            }
            return data;
        }
        if (id == "ds64" && size >= 16) {
            const std::string body = bytesAt(in, pos + 8, 16);
            if (body.size() == 16) ds64DataSize = unsignedAt(body, 8, 8, false);
        } else if (id == "fmt " && size >= 14) {
            const std::string body = bytesAt(in, pos + 8, 14);
            if (body.size() == 14) {
                // PCM, IEEE float, A-law, mu-law, extensible: a frame is block-align bytes.
                const std::uint64_t tag = unsignedAt(body, 0, 2, bigEndian);
                if (tag == 1 || tag == 3 || tag == 6 || tag == 7 || tag == 0xFFFE) frameBytes = unsignedAt(body, 12, 2, bigEndian);
            }
        }
        pos += 8 + size + size % 2; // chunks are padded to an even length
    }
    return std::nullopt;
}

// A NIST SPHERE file ("NIST_1A", the header's length, "<name> -<type> <value>" lines up to
// end_head): sample_count x sample_n_bytes x channel_count bytes after the header. nullopt when
// the file is not one, lacks those fields, or is compressed (shorten, wavpack).
std::optional<AnnouncedData> sphereData(std::ifstream& in, std::uint64_t fileSize) {
    const std::string start = bytesAt(in, 0, 16);
    if (start.compare(0, 8, "NIST_1A\n") != 0) return std::nullopt;
    std::uint64_t headerSize = 0;
    try {
        headerSize = std::stoull(start.substr(8));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (headerSize < 16 || headerSize > fileSize || headerSize > (1u << 20)) return std::nullopt;
    std::istringstream header(bytesAt(in, 0, static_cast<std::size_t>(headerSize)));
    std::string line;
    std::uint64_t count = 0, sampleBytes = 0, channels = 1;
    bool haveCount = false, haveBytes = false;
    while (std::getline(header, line)) {
        std::istringstream fields(line);
        std::string name, type, value;
        fields >> name >> type >> value;
        if (name == "end_head") break;
        try {
            if (name == "sample_count") {
                count = std::stoull(value);
                haveCount = true;
            } else if (name == "sample_n_bytes") {
                sampleBytes = std::stoull(value);
                haveBytes = true;
            } else if (name == "channel_count") {
                channels = std::stoull(value);
            } else if (name == "sample_coding" &&
                       (value.find("shorten") != std::string::npos || value.find("wavpack") != std::string::npos ||
                        value.find("shortpack") != std::string::npos)) {
                return std::nullopt;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (!haveCount || !haveBytes || sampleBytes == 0 || channels == 0) return std::nullopt;
    AnnouncedData data;
    data.frameBytes = sampleBytes * channels;
    data.announced = count * data.frameBytes;
    data.present = fileSize - headerSize;
    return data;
}

// Error naming the file when its header announces more bytes of samples than it holds:
// libsndfile reads a WAV or SPHERE file cut short as a shorter file without a word. FLAC needs
// no check here: reading it fails at the cut.
void requireWholeData(const std::string& path) {
    std::error_code ec;
    const std::uint64_t fileSize = std::filesystem::file_size(path, ec);
    if (ec) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    std::optional<AnnouncedData> data = wavData(in, fileSize);
    if (!data) data = sphereData(in, fileSize);
    if (!data) return;
    if (data->announced == 0 && data->present > 0)
        throw Error(path + ": its header announces no samples (a length of 0), but " + std::to_string(data->present) +
                    " bytes follow; a file whose writer never filled in the length? Rewrite it, e.g. sox IN OUT.wav");
    if (data->present >= data->announced) return;
    std::string frames;
    if (data->frameBytes > 0)
        frames = "; " + std::to_string(data->present / data->frameBytes) + " of the " +
                 std::to_string(data->announced / data->frameBytes) + " frames";
    throw Error(path + ": the audio ends early: the file holds " + std::to_string(data->present) + " of the " +
                std::to_string(data->announced) + " bytes of samples its header announces" + frames +
                " (a truncated or damaged file?)");
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
    requireWholeData(path);
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
    // A float file can hold NaN or infinities, which would turn every feature of the clip into NaN.
    const auto bad = std::find_if(interleaved.begin(), interleaved.end(), [](float v) { return !std::isfinite(v); });
    if (bad != interleaved.end()) {
        const auto index = static_cast<std::size_t>(bad - interleaved.begin());
        const auto channels = static_cast<std::size_t>(info.channels);
        const std::string value = std::isnan(*bad) ? "NaN" : *bad > 0 ? "inf" : "-inf";
        throw Error(path + ": sample " + std::to_string(index / channels) +
                    (channels > 1 ? " (channel " + std::to_string(index % channels + 1) + " of " + std::to_string(channels) + ")"
                                  : std::string()) +
                    " is " + value + "; expected finite samples (a damaged float file?)");
    }
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
