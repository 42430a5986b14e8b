#pragma once
// JSON text of single values, for the files and requests LossLab writes as JSON (the Slurm
// plan, the MLflow export). Torch-free, Qt-free.
#include <string>
#include <string_view>

namespace losslab {

// A string: quoted, escaped (", \\, control characters), invalid UTF-8 replaced by U+FFFD.
std::string jsonString(std::string_view text);
// A number: its shortest exact form; NaN and the infinities as the strings "NaN", "Infinity"
// and "-Infinity", as protocol buffers' JSON (MLflow's) reads them.
std::string jsonNumber(double value);

} // namespace losslab
