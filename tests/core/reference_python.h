#pragma once
// Runs a Python reference of a test (a script under tests/ or bench/) with the machine's
// PyTorch: Debian's /usr/bin/python3 with python3-torch and python3-torchaudio
// (scripts/install-deps.sh), or the python3 LOSSLAB_BENCH_PYTHON names. Returns what it printed
// (stdout and stderr); throws losslab::Error with the command and its output when it exits
// with another status than 0.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "losslab/error.h"

namespace losslab::fixtures {

inline std::string runReferencePython(const std::string& arguments) {
    const char* python = std::getenv("LOSSLAB_BENCH_PYTHON");
    const std::string command = std::string(python && *python ? python : "/usr/bin/python3") + " " + arguments + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    if (!pipe) throw Error("cannot run " + command);
    std::string out;
    std::array<char, 256> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe.get())) out += buffer.data();
    const int status = ::pclose(pipe.release());
    if (status != 0) throw Error(command + " failed: " + out);
    return out;
}

} // namespace losslab::fixtures
