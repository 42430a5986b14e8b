#pragma once
// The one exception type for errors a user can cause: a bad file, key, value or device.
// The message names the file / key / line and says what was expected. Caught at the
// boundary: the CLI prints it and exits non-zero, a worker stores it on the run.
#include <stdexcept>
#include <string>

namespace losslab {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

} // namespace losslab
