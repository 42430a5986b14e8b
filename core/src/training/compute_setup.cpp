#include "losslab/training/compute_setup.h"

#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

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
    int n = threads;
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(n);
}

bool cudaAvailable() { return torch::cuda::is_available(); }
int cudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

std::string trainingLibrary() { return std::string("LibTorch ") + TORCH_VERSION; }

} // namespace losslab
