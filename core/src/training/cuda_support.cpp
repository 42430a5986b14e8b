#include "losslab/training/cuda_support.h"

#include <c10/util/Exception.h>

#include "losslab/error.h"
#include "losslab/torch_compat.h"

#if LOSSLAB_TORCH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace losslab {

namespace {

#if LOSSLAB_TORCH_CUDA
// What c10's warn_or_error_on_sync says (c10/cuda/CUDAFunctions.h).
constexpr const char* kSyncWarning = "called a synchronizing CUDA operation";
#endif

#if !LOSSLAB_TORCH_CUDA
[[noreturn]] void noCuda(const std::string& what) {
    throw Error(what + " needs a LibTorch built with CUDA; this program was built against a CPU-only one "
                       "(see README, 'Building with CUDA')");
}
#endif

} // namespace

bool torchBuiltWithCuda() {
#if LOSSLAB_TORCH_CUDA
    return true;
#else
    return false;
#endif
}

void setSyncDebugWarnings(bool on) {
#if LOSSLAB_TORCH_CUDA
    c10::cuda::warning_state().set_sync_debug_mode(on ? c10::cuda::SyncDebugMode::L_WARN
                                                      : c10::cuda::SyncDebugMode::L_DISABLED);
#else
    if (on) noCuda("CUDA's sync debug mode");
#endif
}

bool syncDebugWarningsOn() {
#if LOSSLAB_TORCH_CUDA
    return c10::cuda::warning_state().get_sync_debug_mode() != c10::cuda::SyncDebugMode::L_DISABLED;
#else
    return false;
#endif
}

// LibTorch's warning handler is per thread: this one counts the sync warnings and hands every
// other warning to the handler it replaced.
struct SyncCounter::Handler : ScopedWarningHandler {
    std::int64_t count = 0;

    bool take(const std::string& message) override {
#if LOSSLAB_TORCH_CUDA
        if (message.find(kSyncWarning) != std::string::npos) {
            ++count;
            return true;
        }
#else
        (void)message;
#endif
        return false;
    }
};

SyncCounter::SyncCounter() : m_handler(std::make_unique<Handler>()) {}

SyncCounter::~SyncCounter() = default;

std::int64_t SyncCounter::count() const { return m_handler->count; }

struct StepGraph::Impl {
#if LOSSLAB_TORCH_CUDA
    std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

StepGraph::StepGraph() : m_impl(std::make_unique<Impl>()) {}

StepGraph::~StepGraph() = default;
StepGraph::StepGraph(StepGraph&&) noexcept = default;
StepGraph& StepGraph::operator=(StepGraph&&) noexcept = default;

bool StepGraph::captured() const {
#if LOSSLAB_TORCH_CUDA
    return m_impl->graph != nullptr;
#else
    return false;
#endif
}

void StepGraph::reset() {
#if LOSSLAB_TORCH_CUDA
    m_impl->graph.reset();
#endif
}

void StepGraph::capture(const c10::Device& device, const at::Generator& generator, const std::function<void()>& step) {
#if LOSSLAB_TORCH_CUDA
    reset();
    if (!device.is_cuda()) throw Error("CUDA graphs are for CUDA devices, not " + device.str());
    const c10::cuda::CUDAGuard guard(device);
    if (c10::cuda::getCurrentCUDAStream(device.index()) == c10::cuda::getDefaultCUDAStream(device.index()))
        throw Error("CUDA graphs are captured on the run's own stream, and this run is on the default one");
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    // The run's generator: each replay then advances it by what the step draws (dropout).
    if (generator.defined()) graph->register_generator_state(generator);
    // Thread-local capture: runs on other threads (and their host reads) go on meanwhile;
    // autograd's worker, which runs the backward pass, records onto this stream all the same.
    graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    try {
        step();
    } catch (const std::exception& e) {
        // End the capture so that the stream takes eager work again; the capture's own
        // complaint (invalidated) says less than the step's.
        try {
            graph->capture_end();
        } catch (const std::exception&) {
        }
        const auto* c10Error = dynamic_cast<const c10::Error*>(&e);
        throw Error(std::string("the training step cannot be captured: ") +
                    (c10Error ? c10Error->what_without_backtrace() : e.what()));
    }
    try {
        graph->capture_end();
    } catch (const c10::Error& e) {
        throw Error(std::string("the training step cannot be captured: ") + e.what_without_backtrace());
    }
    m_impl->graph = std::move(graph);
#else
    (void)device;
    (void)generator;
    (void)step;
    noCuda("train.cuda_graphs");
#endif
}

void StepGraph::replay() {
#if LOSSLAB_TORCH_CUDA
    if (!m_impl->graph) throw Error("StepGraph::replay: nothing captured");
    m_impl->graph->replay();
#else
    noCuda("train.cuda_graphs");
#endif
}

} // namespace losslab
