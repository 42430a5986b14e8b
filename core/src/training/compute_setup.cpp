#include "losslab/training/compute_setup.h"

#include <dlfcn.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "losslab/error.h"

namespace losslab {

namespace {

// "3.7" from "... MKL-DNN v3.7.2 (Git Hash ...)" or "... oneDNN v3.7.2 ..."; empty when the
// configuration names neither.
std::string oneDnnMajorMinor(const std::string& config) {
    for (const char* name : {"MKL-DNN v", "oneDNN v"}) {
        const auto at = config.find(name);
        if (at == std::string::npos) continue;
        const std::size_t begin = at + std::string(name).size();
        const auto firstDot = config.find('.', begin);
        if (firstDot == std::string::npos) return {};
        std::size_t end = firstDot + 1;
        while (end < config.size() && std::isdigit(static_cast<unsigned char>(config[end]))) ++end;
        return config.substr(begin, end - begin);
    }
    return {};
}

bool hasPrefix(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

} // namespace

std::string configureProcess() {
    static std::once_flag once;
    static std::string description;
    std::call_once(once, [] {
        // First, so that a bad LOSSLAB_ONEDNN throws before anything is changed.
        const char* setting = std::getenv("LOSSLAB_ONEDNN");
        const OneDnnChoice onednn = chooseOneDnn(setting, TORCH_VERSION, at::show_config());
        const bool chosenForTheUser = setting == nullptr || std::string(setting).empty() || std::string(setting) == "auto";
        using SetThreads = void (*)(int);
        std::string blas = "reference or unknown BLAS";
        if (auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
            fn(1);
            blas = "OpenBLAS, 1 thread";
        }
        const bool cuda = torch::cuda::is_available();
        if (cuda) at::globalContext().setBenchmarkCuDNN(true);
        if (at::hasMKLDNN()) {
            at::globalContext().setUserEnabledMkldnn(onednn.enabled);
            // Chosen for the user, so said once: the CPU's numbers and speed differ without it.
            if (!onednn.enabled && chosenForTheUser)
                std::cerr << "losslab: note: oneDNN is off for CPU training: " << onednn.why << "\n";
        }
        description = "BLAS: " + blas + "; CUDA: " + (cuda ? std::to_string(torch::cuda::device_count()) + " device(s), cuDNN benchmark on" : "no") +
                      "; oneDNN: " + (onednn.enabled ? "on" : "off") + (onednn.why.empty() ? "" : " (" + onednn.why + ")");
    });
    return description;
}

OneDnnChoice chooseOneDnn(const char* setting, const std::string& libtorchVersion, const std::string& torchConfig) {
    const std::string value = setting == nullptr ? std::string() : std::string(setting);
    if (value == "on") return {true, "LOSSLAB_ONEDNN=on"};
    if (value == "off") return {false, "LOSSLAB_ONEDNN=off"};
    if (!value.empty() && value != "auto")
        throw Error("LOSSLAB_ONEDNN: expected auto, on or off, got '" + value + "'");
    const std::string onednn = oneDnnMajorMinor(torchConfig);
    const bool faulty = (libtorchVersion == "2.6" || hasPrefix(libtorchVersion, "2.6.")) && onednn == "3.7";
    if (faulty)
        return {false, "LibTorch " + libtorchVersion + " with oneDNN " + onednn +
                           " gives non-finite CPU convolution gradients with several threads; LOSSLAB_ONEDNN=on uses it anyway"};
    return {true, ""};
}

void configureWorkerThread(int threads, int niceIncrement) {
    if (niceIncrement > 0) {
        // Per thread on Linux: PRIO_PROCESS with a thread id. Set before the OpenMP pool
        // starts, so that its threads inherit it. Failure (a container that forbids it)
        // leaves the priority as it was; training is unaffected.
        const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
        errno = 0;
        const int current = ::getpriority(PRIO_PROCESS, tid);
        if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(19, current + niceIncrement));
    }
    at::init_num_threads();
    at::set_num_threads(threads > 0 ? threads : defaultRunThreads(1));
}

int workerThreads() { return at::get_num_threads(); }

int usableCores() {
    // std::thread::hardware_concurrency() counts every core of the machine: a run started on
    // 4 of a node's 64 cores would start 64 threads on them.
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int defaultRunThreads(int cpuRuns) {
    if (const char* omp = std::getenv("OMP_NUM_THREADS"); omp != nullptr && *omp != '\0') {
        // Only a plain positive number: "4,2" (nested levels) or "x" leave the default.
        char* end = nullptr;
        errno = 0;
        const long n = std::strtol(omp, &end, 10);
        if (errno == 0 && *end == '\0' && n > 0 && n <= 1024) return static_cast<int>(n);   // runner.threads' range
    }
    return std::max(1, usableCores() / std::max(1, cpuRuns));
}

bool cudaAvailable() { return torch::cuda::is_available(); }
int cudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

std::string trainingLibrary() {
    const bool oneDnnOff = at::hasMKLDNN() && !at::globalContext().userEnabledMkldnn();
    return std::string("LibTorch ") + TORCH_VERSION + (oneDnnOff ? ", oneDNN off" : "");
}

} // namespace losslab
