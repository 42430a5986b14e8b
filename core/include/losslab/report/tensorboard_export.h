#pragma once
// Stored runs as TensorBoard event files, so the curves can be browsed beside other tools'
// runs (`tensorboard --logdir DIR`). One folder per run (a TensorBoard "run"):
//   DIR/<experiment>#<id>/<task>/<loss name>/<protocol>/[<recipe label>/]seed<seed>/
// holding one file events.out.tfevents.<created>.losslab.<run uid>:
//   - every stored epoch metric as the scalar "<split>/<metric>" at step = epoch
//     ("val/acc", "test/loss", "train/wall_s", ...);
//   - every stored step metric as "step/<metric>" at step = the optimiser step
//     ("step/train_loss", "step/lr");
//   - every metric at the epoch the protocol reports as "reported/<split>/<metric>", one point
//     at step = that epoch (what the HParams dashboard shows: a series' last value);
//   - the text "run": the run's settings, status and reported epoch as a Markdown table, and
//     its resolved spec (YAML);
//   - an HParams session start: experiment, task, loss, loss_type, k, M, lr, protocol and, for
//     a sweep, recipe; its group is the folder without the seed, so the HParams dashboard
//     pools the seeds of one recipe (the seed is not an hparam: a group shows its first
//     session's hparams).
// The recipe label appears only where runs of one task, loss and protocol differ in more than
// their seed (a sweep's learning rates, k, M or model keys: "lr 0.1"), as the report labels
// them (recipeLabels()). Wall times: the run's (latest) start plus its training seconds
// (train/wall_s) so far; evaluation time is not counted.
//
// The format: TFRecord framing (length, masked CRC-32C of the length, the record, its masked
// CRC-32C) around tensorflow.Event protocol buffers, written here without a protobuf library.
// Scalars are float32 (simple_value), as TensorBoard stores them.
//
// Exporting again replaces the file (written under a temporary name, then renamed) and
// removes other files this exporter wrote into the run's folder; files of other programs
// are left alone. Torch-free, Qt-free.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace losslab {

class RunStore;

namespace tensorboard {

// CRC-32C (Castagnoli), as TFRecord uses it, continuing from `crc` (0 to start).
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);
// TFRecord's masked CRC: rotate right by 15 bits, add 0xa282ead8.
std::uint32_t maskedCrc32c(std::string_view data);
// One TFRecord: little-endian uint64 length, masked CRC of those 8 bytes, the data, its masked CRC.
std::string record(std::string_view data);

// Serialised tensorflow.Event messages.
std::string fileVersionEvent(double wallTime);                                   // "brain.Event:2"
std::string scalarEvent(double wallTime, std::int64_t step, std::string_view tag, float value);
std::string textEvent(double wallTime, std::int64_t step, std::string_view tag, std::string_view markdown);
// The HParams plugin's "_hparams_/session_start_info": hparams given as numbers or as text,
// the session group and its start time (seconds since 1970).
std::string sessionStartEvent(double wallTime, const std::map<std::string, double>& numbers,
                              const std::map<std::string, std::string>& texts, std::string_view group);

} // namespace tensorboard

struct TensorBoardExportRequest {
    // As ReportRequest::experiments: names (their latest instance), "name#id", or empty for
    // the latest instance of every name.
    std::vector<std::string> experiments;
    std::string outDir;
};

struct TensorBoardExportResult {
    int experiments = 0;
    int runs = 0;       // runs written (one folder each)
    int notStarted = 0; // runs with nothing stored yet (queued, or cancelled before they started): no folder
    std::vector<std::string> runDirs; // written, relative to outDir, in run-id order
};

// Writes the selected experiments' runs. Throws Error naming an unknown experiment (and the
// stored ones), an experiment selection without runs, or a path that cannot be written (with
// how many runs, and which, were written before it); the database is only read.
TensorBoardExportResult exportTensorBoard(const RunStore& store, const TensorBoardExportRequest& request);

} // namespace losslab
