#pragma once
// Private to the store: where the files that belong to a database's runs live, shared by
// RunStore and the merge (which copies them from a part's folder into the target's).
#include <cstdint>
#include <filesystem>
#include <string>

namespace losslab::Internal {

// <db folder>/<db name without extension>-checkpoints/run-<id><suffix> (".pt": the final
// weights; ".resume.pt": the state a cancelled or interrupted run resumes from).
inline std::string checkpointFileOf(const std::string& dbPath, std::int64_t runId, const char* suffix) {
    const std::filesystem::path db(dbPath);
    return (db.parent_path() / (db.stem().string() + "-checkpoints") / ("run-" + std::to_string(runId) + suffix))
        .string();
}

} // namespace losslab::Internal
