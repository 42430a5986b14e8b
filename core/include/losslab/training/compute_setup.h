#pragma once
// Thread and device set-up for training. Torch-free header.
//
// OpenBLAS runs its own thread pool next to OpenMP's; both on the same cores made one MLP
// step up to 20x slower here. The process therefore keeps BLAS at one thread and lets
// ATen's intra-op pool (OpenMP) use the cores, set per worker thread.
#include <string>
#include <vector>

namespace losslab {

// Once per process, before training: BLAS single-threaded (via openblas_set_num_threads
// when OpenBLAS is the loaded BLAS), cuDNN benchmark mode on when CUDA is present, oneDNN
// on or off as chooseOneDnn() says. Returns a one-line description ("BLAS: OpenBLAS, 1
// thread; CUDA: no; oneDNN: on"). Throws Error for a LOSSLAB_ONEDNN value other than auto,
// on or off (the process state is then left as it was, and a later call tries again).
std::string configureProcess();

// Whether ATen may use oneDNN (MKL-DNN) for CPU convolutions and the other operators it
// routes there. `setting` is LOSSLAB_ONEDNN's value (nullptr or empty: "auto");
// `libtorchVersion` is TORCH_VERSION; `torchConfig` is at::show_config(), whose "MKL-DNN vX.Y"
// or "oneDNN vX.Y" names the oneDNN it was built with (none: oneDNN is not there).
//   on, off: as asked;
//   auto: off for LibTorch 2.6 with oneDNN 3.7 (Debian 13's package), whose multithreaded
//         CPU convolution backward gives non-finite gradients now and then (docs/debian13.md);
//         on otherwise.
// Throws Error naming LOSSLAB_ONEDNN for any other value.
struct OneDnnChoice {
    bool enabled = true;
    std::string why; // one line, for the process description and the docs
};
OneDnnChoice chooseOneDnn(const char* setting, const std::string& libtorchVersion, const std::string& torchConfig);

// The cores this process may run on: its CPU affinity (what taskset, a Slurm step or a
// container's cpuset allows), not every core of the machine. At least 1.
int usableCores();

// A run's intra-op threads when `runner.threads` is 0: OMP_NUM_THREADS when it is a positive
// number (PyTorch reads it the same way, per thread pool), otherwise usableCores() shared
// among `cpuRuns` runs training at once. At least 1.
int defaultRunThreads(int cpuRuns);

// At the start of every worker thread: initialise ATen's per-thread OpenMP state and set
// the intra-op threads (0: defaultRunThreads(1)). `niceIncrement` > 0 lowers the thread's
// scheduling priority by that much (Linux nice, per thread; the OpenMP threads it starts inherit it),
// so that a GUI thread in the same process wins the CPU when the cores are all busy.
void configureWorkerThread(int threads, int niceIncrement = 0);

// The intra-op threads the calling thread computes with (ATen's, as configureWorkerThread set
// them): what a run stores as its thread count.
int workerThreads();

bool cudaAvailable();
int cudaDeviceCount();

// The library that trains, as stored with every run: "LibTorch 2.6.0", the version this
// program was built against, with ", oneDNN off" when configureProcess() turned oneDNN off
// (the CPU computes other numbers without it).
std::string trainingLibrary();

} // namespace losslab
