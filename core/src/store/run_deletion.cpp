#include "losslab/store/run_deletion.h"

#include <map>

namespace losslab {

std::vector<std::string> deletionNotes(const std::vector<RunRecord>& all, const std::set<std::int64_t>& going) {
    std::map<std::string, std::int64_t> goingUids;
    for (const auto& r : all)
        if (going.count(r.id)) goingUids[r.uid] = r.id;
    std::vector<std::string> notes;
    for (const auto& r : all) {
        if (going.count(r.id)) continue;
        const std::string kept = "kept run " + std::to_string(r.id) + " (" + r.lossName + " " + r.protocol + " seed " +
                                 std::to_string(r.seed) + ")";
        const bool resumable = r.status == RunStatus::Interrupted || r.status == RunStatus::Cancelled;
        if (r.dependsOn && going.count(*r.dependsOn)) {
            const std::string source = " took its epoch count from cross-entropy run " + std::to_string(*r.dependsOn);
            // A run that started stored its epoch count and resumes to it; one that did not takes
            // it from the CE run, and fails without one.
            if (resumable && r.targetEpochs == 0)
                notes.push_back(kept + " is " + runStatusName(r.status) + " and takes its epoch count from cross-entropy run " +
                                std::to_string(*r.dependsOn) + ", which is deleted: resume cannot continue it then (it has no "
                                "stored epoch count yet, and fails); delete it too, or keep it as it is");
            else
                notes.push_back(kept + source + ", which is deleted; its results stay, but their source is gone");
        }
        const auto copied = goingUids.find(r.reusedFrom);
        if (!r.reusedFrom.empty() && copied != goingUids.end())
            notes.push_back(kept + " has its epochs copied from run " + std::to_string(copied->second) +
                            " (runner.reuse_prefix), which is deleted; its results stay, but their source is gone");
    }
    return notes;
}

} // namespace losslab
