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
// when OpenBLAS is the loaded BLAS), cuDNN benchmark mode on when CUDA is present.
// Returns a one-line description ("BLAS: OpenBLAS, 1 thread; CUDA: no").
std::string configureProcess();

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
// program was built against.
std::string trainingLibrary();

} // namespace losslab
