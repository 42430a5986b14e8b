#include "losslab/spec/file_digest.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "losslab/error.h"

namespace losslab {

std::string fileDigest(const std::string& path, const std::string& key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + " (" + key + "): cannot be read");
    std::uint64_t state = 0xcbf29ce484222325ULL;
    std::uint64_t size = 0;
    std::vector<char> buffer(std::size_t{1} << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        for (std::size_t i = 0; i < n; ++i) {
            state ^= static_cast<unsigned char>(buffer[i]);
            state *= 0x100000001b3ULL;
        }
        size += n;
    }
    if (in.bad()) throw Error(path + " (" + key + "): cannot be read");
    char text[64];
    std::snprintf(text, sizeof text, "fnv1a64:%016llx:%llu", static_cast<unsigned long long>(state),
                  static_cast<unsigned long long>(size));
    return text;
}

void addFileDigests(std::vector<RunSpec>& runs) {
    std::map<std::string, std::string> digests; // by path: a file the runs share is read once
    for (RunSpec& run : runs) {
        std::map<std::string, std::string> add;
        for (const auto& [key, value] : run.params.values()) {
            if (run.params.type(key) != ParamType::Path || value.empty()) continue;
            std::error_code ec;
            if (!std::filesystem::is_regular_file(value, ec)) continue; // a folder, or missing: the task says so
            auto it = digests.find(value);
            if (it == digests.end()) it = digests.emplace(value, fileDigest(value, key)).first;
            add[std::string(kFileDigestSection) + "." + key] = it->second;
        }
        for (const auto& [key, digest] : add) run.params.set(key, digest, ParamType::String);
    }
}

std::map<std::string, std::string> storedFileDigests(const std::string& specYaml) {
    std::map<std::string, std::string> out;
    try {
        const YAML::Node files = YAML::Load(specYaml)[kFileDigestSection];
        if (!files.IsMap()) return out;
        for (const auto& kv : files)
            if (kv.first.IsScalar() && kv.second.IsScalar()) out[kv.first.Scalar()] = kv.second.Scalar();
    } catch (const YAML::Exception&) {
    }
    return out;
}

} // namespace losslab
