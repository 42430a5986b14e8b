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

// How a container lays out its chunks. RIFF (WAV) and AIFF name a chunk in 4 bytes, give its
// body's size in 4 and pad the body to an even length; Wave64 names it with a 16-byte GUID and
// gives a 64-bit size that counts the 24-byte chunk header, padded to a multiple of 8.
struct ChunkLayout {
    std::size_t idBytes = 4;
    std::size_t sizeBytes = 4;
    bool bigEndian = false;
    bool sizeCountsHeader = false;
    std::uint64_t align = 2;
};

struct Chunk {
    std::string id;
    std::uint64_t body = 0; // offset of the chunk's body
    std::uint64_t size = 0; // the body's size, as its header says
};

// The chunks from `pos` on, each given to visit(chunk) until it returns true: that chunk, or
// nullopt when the file ends first (or a chunk's size runs past its end).
template <typename Visit>
std::optional<Chunk> findChunk(std::ifstream& in, std::uint64_t fileSize, std::uint64_t pos, const ChunkLayout& layout,
                               Visit&& visit) {
    const std::uint64_t headerBytes = layout.idBytes + layout.sizeBytes;
    while (pos + headerBytes <= fileSize) {
        const std::string head = bytesAt(in, pos, static_cast<std::size_t>(headerBytes));
        if (head.size() < headerBytes) break;
        Chunk chunk;
        chunk.id = head.substr(0, layout.idBytes);
        chunk.body = pos + headerBytes;
        chunk.size = unsignedAt(head, layout.idBytes, layout.sizeBytes, layout.bigEndian);
        if (layout.sizeCountsHeader) {
            if (chunk.size < headerBytes) break;
            chunk.size -= headerBytes;
        }
        if (visit(chunk)) return chunk;
        if (chunk.size > fileSize - chunk.body) break;
        pos = chunk.body + chunk.size + (layout.align - chunk.size % layout.align) % layout.align;
    }
    return std::nullopt;
}

// Bytes per frame of a WAV or Wave64 "fmt " chunk: block-align for PCM, IEEE float, A-law,
// mu-law and extensible; 0 for other codings (a frame is not a fixed number of bytes).
std::uint64_t wavFrameBytes(std::ifstream& in, const Chunk& fmt, bool bigEndian) {
    if (fmt.size < 14) return 0;
    const std::string body = bytesAt(in, fmt.body, 14);
    if (body.size() < 14) return 0;
    const std::uint64_t tag = unsignedAt(body, 0, 2, bigEndian);
    if (tag == 1 || tag == 3 || tag == 6 || tag == 7 || tag == 0xFFFE) return unsignedAt(body, 12, 2, bigEndian);
    return 0;
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
    ChunkLayout layout;
    layout.bigEndian = form == "RIFX";
    const bool ds64Form = form == "RF64" || form == "BW64";
    std::optional<std::uint64_t> ds64DataSize;
    std::uint64_t frameBytes = 0;
    const std::optional<Chunk> chunk = findChunk(in, fileSize, 12, layout, [&](const Chunk& c) {
        if (c.id == "data") return true;
        if (c.id == "ds64" && c.size >= 16) {
            const std::string body = bytesAt(in, c.body, 16);
            if (body.size() == 16) ds64DataSize = unsignedAt(body, 8, 8, false);
        } else if (c.id == "fmt ") {
            frameBytes = wavFrameBytes(in, c, layout.bigEndian);
        }
        return false;
    });
    if (!chunk) return std::nullopt;
    AnnouncedData data;
    data.present = fileSize - chunk->body;
    data.frameBytes = frameBytes;
    if (chunk->size == 0xFFFFFFFFu) {
        if (!ds64Form || !ds64DataSize) return std::nullopt;
        data.announced = *ds64DataSize;
    } else {
        data.announced = chunk->size;
    }
    return data;
}

// A Sony Wave64 file (RIFF's layout, ChunkLayout above; the GUIDs of "riff", "wave", "fmt " and
// "data" begin with those names): the data chunk's size against the bytes after its header.
std::optional<AnnouncedData> w64Data(std::ifstream& in, std::uint64_t fileSize) {
    const std::string riffGuid("riff\x2E\x91\xCF\x11\xA5\xD6\x28\xDB\x04\xC1\x00\x00", 16);
    const std::string guidTail("\xF3\xAC\xD3\x11\x8C\xD1\x00\xC0\x4F\x8E\xDB\x8A", 12);
    const std::string head = bytesAt(in, 0, 40);
    if (head.size() < 40 || head.compare(0, 16, riffGuid) != 0 || head.compare(24, 16, "wave" + guidTail) != 0)
        return std::nullopt;
    ChunkLayout layout;
    layout.idBytes = 16;
    layout.sizeBytes = 8;
    layout.sizeCountsHeader = true;
    layout.align = 8;
    std::uint64_t frameBytes = 0;
    const std::optional<Chunk> chunk = findChunk(in, fileSize, 40, layout, [&](const Chunk& c) {
        if (c.id == "data" + guidTail) return true;
        if (c.id == "fmt " + guidTail) frameBytes = wavFrameBytes(in, c, false);
        return false;
    });
    if (!chunk) return std::nullopt;
    AnnouncedData data;
    data.announced = chunk->size;
    data.present = fileSize - chunk->body;
    data.frameBytes = frameBytes;
    return data;
}

// Bytes per sample of an AIFF-C compression type (AIFF: "NONE"); 0 for compressed codings.
std::uint64_t aiffSampleBytes(const std::string& compression, std::uint64_t bits) {
    if (compression == "NONE" || compression == "twos" || compression == "sowt" || compression == "raw " ||
        compression == "in24" || compression == "42ni" || compression == "in32" || compression == "23ni")
        return (bits + 7) / 8;
    if (compression == "fl32" || compression == "FL32") return 4;
    if (compression == "fl64" || compression == "FL64") return 8;
    if (compression == "ulaw" || compression == "ULAW" || compression == "alaw" || compression == "ALAW") return 1;
    return 0;
}

// An AIFF or AIFF-C file: the bytes of samples the SSND chunk's size announces (less its offset
// and block-size fields and the offset) and those COMM's frame count announces, whichever is
// more, against the bytes from the first sample on. libsndfile takes the frame count from the
// SSND chunk, shortened to what the file holds, and only logs a COMM that says otherwise. An
// SSND size too small to hold its fields or offset announces nothing (libsndfile reads such a
// chunk to the end of the file); nullopt when neither it nor COMM announces a length.
std::optional<AnnouncedData> aiffData(std::ifstream& in, std::uint64_t fileSize) {
    const std::string form = bytesAt(in, 0, 12);
    if (form.size() < 12 || form.compare(0, 4, "FORM") != 0) return std::nullopt;
    const bool aifc = form.compare(8, 4, "AIFC") == 0;
    if (!aifc && form.compare(8, 4, "AIFF") != 0) return std::nullopt;
    ChunkLayout layout;
    layout.bigEndian = true;
    std::uint64_t frameBytes = 0;
    std::optional<std::uint64_t> commBytes;
    const std::optional<Chunk> ssnd = findChunk(in, fileSize, 12, layout, [&](const Chunk& c) {
        if (c.id == "SSND") return true;
        if (c.id == "COMM" && c.size >= 18) {
            // channels (2), frames (4), bits per sample (2), rate (10); AIFF-C: compression type (4)
            const std::string body = bytesAt(in, c.body, aifc && c.size >= 22 ? 22 : 18);
            if (body.size() < 18 || (aifc && body.size() < 22)) return false;
            const std::string compression = aifc ? body.substr(18, 4) : "NONE";
            frameBytes = unsignedAt(body, 0, 2, true) * aiffSampleBytes(compression, unsignedAt(body, 6, 2, true));
            const std::uint64_t frames = unsignedAt(body, 2, 4, true);
            if (frameBytes > 0 && frames > 0) commBytes = frames * frameBytes;
        }
        return false;
    });
    if (!ssnd) return std::nullopt;
    const std::string fields = bytesAt(in, ssnd->body, 8);
    if (fields.size() < 8) return std::nullopt;
    const std::uint64_t offset = unsignedAt(fields, 0, 4, true);
    const std::uint64_t firstSample = ssnd->body + 8 + offset;
    std::optional<std::uint64_t> announced = commBytes;
    if (ssnd->size >= 8 + offset) announced = std::max(announced.value_or(0), ssnd->size - 8 - offset);
    if (!announced) return std::nullopt;
    AnnouncedData data;
    data.announced = *announced;
    data.present = fileSize > firstSample ? fileSize - firstSample : 0;
    data.frameBytes = frameBytes;
    return data;
}

// A Sun/NeXT AU file (".snd", big-endian; "dns.", little-endian): the header's data size
// against the bytes after the header. nullopt when the size is 0xFFFFFFFF, AU's "unknown"
// (libsndfile reads to the end of the file, as for WAV's).
std::optional<AnnouncedData> auData(std::ifstream& in, std::uint64_t fileSize) {
    const std::string head = bytesAt(in, 0, 24);
    if (head.size() < 24) return std::nullopt;
    const bool bigEndian = head.compare(0, 4, ".snd") == 0;
    if (!bigEndian && head.compare(0, 4, "dns.") != 0) return std::nullopt;
    const std::uint64_t offset = unsignedAt(head, 4, 4, bigEndian);
    const std::uint64_t size = unsignedAt(head, 8, 4, bigEndian);
    if (size == 0xFFFFFFFFu || offset > fileSize) return std::nullopt;
    // Encodings 1 mu-law, 2-5 8- to 32-bit PCM, 6 float, 7 double, 27 A-law; the ADPCM ones have
    // no fixed frame size.
    std::uint64_t sampleBytes = 0;
    switch (unsignedAt(head, 12, 4, bigEndian)) {
        case 1: case 2: case 27: sampleBytes = 1; break;
        case 3: sampleBytes = 2; break;
        case 4: sampleBytes = 3; break;
        case 5: case 6: sampleBytes = 4; break;
        case 7: sampleBytes = 8; break;
        default: break;
    }
    AnnouncedData data;
    data.announced = size;
    data.present = fileSize - offset;
    data.frameBytes = sampleBytes * unsignedAt(head, 20, 4, bigEndian);
    return data;
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
// libsndfile reads a WAV, Wave64, AIFF, AU or SPHERE file cut short as a shorter file without a
// word. FLAC needs no check here: reading it fails at the cut.
void requireWholeData(const std::string& path) {
    std::error_code ec;
    const std::uint64_t fileSize = std::filesystem::file_size(path, ec);
    if (ec) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    std::optional<AnnouncedData> data;
    for (const auto announcedData : {&wavData, &w64Data, &aiffData, &auData, &sphereData})
        if ((data = announcedData(in, fileSize))) break;
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
                    "); expected WAV, FLAC, NIST SPHERE, AIFF, AU, Wave64 or another format libsndfile reads");
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
    // "sample 40", or "sample 40 (channel 2 of 2)" in a file with several channels.
    const auto channels = static_cast<std::size_t>(info.channels);
    const auto sampleAt = [&](std::vector<float>::const_iterator at) {
        const auto index = static_cast<std::size_t>(at - interleaved.cbegin());
        return "sample " + std::to_string(index / channels) +
               (channels > 1 ? " (channel " + std::to_string(index % channels + 1) + " of " + std::to_string(channels) + ")"
                             : std::string());
    };
    // A float file can hold NaN or infinities, which would turn every feature of the clip into NaN.
    const auto bad = std::find_if(interleaved.cbegin(), interleaved.cend(), [](float v) { return !std::isfinite(v); });
    if (bad != interleaved.cend()) {
        const std::string value = std::isnan(*bad) ? "NaN" : *bad > 0 ? "inf" : "-inf";
        throw Error(path + ": " + sampleAt(bad) + " is " + value + "; expected finite samples (a damaged float file?)");
    }
    // libsndfile scales integer samples into [-1, 1) but gives float samples as they are stored,
    // so a float file holding integer values (32767.0) would give features on another scale.
    // Overs from clipping are real (a gain applied after recording, intersample peaks) and stay
    // a few dB above full scale: a bound of 2 (+6 dB) leaves room for them. Integer-scaled
    // samples pass it at any audible level: samples within +-2 on the 16-bit scale are 84 dB
    // below full scale, silence.
    constexpr float kLargestFloatSample = 2.0f;
    const auto misScaled = std::find_if(interleaved.cbegin(), interleaved.cend(),
                                        [](float v) { return std::abs(v) > kLargestFloatSample; });
    if (misScaled != interleaved.cend()) {
        std::ostringstream value;
        value << *misScaled;
        throw Error(path + ": " + sampleAt(misScaled) + " is " + value.str() +
                    "; expected float audio in [-1, 1] (a little over where it clipped; beyond 2 it is not clipping: "
                    "integer samples stored as float? Scale them by 1/32768)");
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
