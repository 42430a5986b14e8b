#include "losslab/training/compute_setup.h"

#include <dlfcn.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

namespace losslab {

std::string configureProcess() {
    static std::once_flag once;
    static std::string description;
    std::call_once(once, [] {
        using SetThreads = void (*)(int);
        std::string blas = "reference or unknown BLAS";
        if (auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
            fn(1);
            blas = "OpenBLAS, 1 thread";
        }
        const bool cuda = torch::cuda::is_available();
        if (cuda) at::globalContext().setBenchmarkCuDNN(true);
        description = "BLAS: " + blas + "; CUDA: " + (cuda ? std::to_string(torch::cuda::device_count()) + " device(s), cuDNN benchmark on" : "no");
    });
    return description;
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

std::string trainingLibrary() { return std::string("LibTorch ") + TORCH_VERSION; }

} // namespace losslab
