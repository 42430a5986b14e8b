#pragma once
// What deleting runs does to the runs that stay: the notes `losslab-cli delete` prints and the
// window's Delete shows before anything is deleted. Torch-free.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "losslab/store/records.h"

namespace losslab {

// One line per run of `all` that stays (is not in `going`) but took something from a run that
// goes: its epoch count (a same_epochs_as_ce run's depends_on) or its epochs (reused_from,
// runner.reuse_prefix). A kept same_epochs_as_ce run interrupted or cancelled before it started
// (no stored epoch count) could then no longer be resumed: its line says so. Lines start with
// "kept run N (loss protocol seed S)".
std::vector<std::string> deletionNotes(const std::vector<RunRecord>& all, const std::set<std::int64_t>& going);

} // namespace losslab
