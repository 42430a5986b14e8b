#pragma once
// What only a LibTorch built with CUDA has (compiled in where CMake finds one,
// LOSSLAB_TORCH_CUDA): counting the host-device synchronisations of CUDA's sync debug mode,
// and CUDA graphs of a training step (train.cuda_graphs). Against a CPU-only LibTorch
// (Debian's) everything here builds, counts nothing and captures nothing, and says so.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

namespace losslab {

// Whether this program was built against a LibTorch with CUDA.
bool torchBuiltWithCuda();

// CUDA's sync debug mode, process-wide: when on, every operation that makes the host wait for
// the device (reading a value, a copy from ordinary memory, a stream synchronisation) raises
// a LibTorch warning, which SyncCounter counts. Throws Error without a CUDA build.
void setSyncDebugWarnings(bool on);
bool syncDebugWarningsOn();

// While alive, counts the sync debug mode's warnings raised in this thread (and only these;
// other warnings go on to the previous handler). Counts nothing when the mode is off.
class SyncCounter {
public:
    SyncCounter();
    ~SyncCounter();
    SyncCounter(const SyncCounter&) = delete;
    SyncCounter& operator=(const SyncCounter&) = delete;
    std::int64_t count() const;

private:
    struct Handler;
    std::unique_ptr<Handler> m_handler;
};

// A CUDA graph of one training step: the step's kernels recorded once on the current stream
// (the run's own), then launched again in one call per step, which spares the host the
// launch of every kernel. The graph reads its inputs from, and writes its outputs to, the
// tensors the captured step used: copy each batch into them before replay().
class StepGraph {
public:
    // Eager full-batch steps before a capture (the trainer's and losslab-bench-step's): they
    // let cuDNN choose its algorithms and the optimiser create its buffers outside the graph.
    static constexpr int kWarmupSteps = 3;

    StepGraph();
    ~StepGraph();
    StepGraph(const StepGraph&) = delete;
    StepGraph& operator=(const StepGraph&) = delete;
    StepGraph(StepGraph&&) noexcept;
    StepGraph& operator=(StepGraph&&) noexcept;

    // Records `step` on `device`'s current stream (nothing runs: replay() then runs it).
    // `generator`, when defined, is the run's generator on the device that `step` draws from:
    // each replay advances it as the step did. Only this thread's work is captured, so runs
    // on other threads go on. Throws Error saying why when the step cannot be captured (a
    // host read inside it, an operation CUDA graphs do not allow, no CUDA build); the device
    // is then ready for eager steps again.
    void capture(const c10::Device& device, const at::Generator& generator, const std::function<void()>& step);
    void replay();
    bool captured() const;
    void reset();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace losslab
