#pragma once
// The few places where LibTorch 1.13 (Debian 12) and 2.x (Debian 13's 2.6, PyTorch's wheels)
// differ for LossLab, in one header, so that no other file needs a version #if. Each function
// keeps the behaviour of 1.13 on every version, so a run gives the same numbers on both.

#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>
#include <c10/util/Exception.h>
#include <torch/optim/optimizer.h>
#include <torch/version.h>

#include <string>

namespace losslab {

// Zeroes the gradients of the optimizer's parameters, keeping the gradient tensors.
// LibTorch 2.x's zero_grad() sets them to undefined instead (set_to_none = true); then a
// parameter that a step does not reach keeps no zero gradient, and SGD skips its momentum and
// weight decay update, which 1.13 applied. The bench's PyTorch side does the same
// (zero_grad(set_to_none=False)), so both sides time the same work.
inline void zeroGradients(torch::optim::Optimizer& optimizer) {
#if TORCH_VERSION_MAJOR >= 2
    optimizer.zero_grad(/*set_to_none=*/false);
#else
    optimizer.zero_grad();
#endif
}

// train.precision: bf16. While alive, the current thread runs eligible operations on `device`'s
// type (matrix products, convolutions) in bfloat16, as torch.autocast does; the previous state
// is restored after. Autocast state is per thread, so runs on other worker threads are not
// affected. LibTorch 2.4 replaced the per-device functions by ones taking the device type.
class Bf16Autocast {
public:
    Bf16Autocast(c10::DeviceType type, bool enabled) : m_type(type), m_enabled(enabled) {
        if (!m_enabled) return;
        m_wasEnabled = isEnabled();
        m_previousType = dtype();
        setDtype(at::kBFloat16);
        setEnabled(true);
        at::autocast::increment_nesting();
    }
    ~Bf16Autocast() {
        if (!m_enabled) return;
        // Casts are cached while nested; the outermost scope drops them.
        if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
        setEnabled(m_wasEnabled);
        setDtype(m_previousType);
    }
    Bf16Autocast(const Bf16Autocast&) = delete;
    Bf16Autocast& operator=(const Bf16Autocast&) = delete;

private:
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    bool isEnabled() const { return at::autocast::is_autocast_enabled(m_type); }
    void setEnabled(bool on) const { at::autocast::set_autocast_enabled(m_type, on); }
    at::ScalarType dtype() const { return at::autocast::get_autocast_dtype(m_type); }
    void setDtype(at::ScalarType t) const { at::autocast::set_autocast_dtype(m_type, t); }
#else
    bool cuda() const { return m_type == c10::DeviceType::CUDA; }
    bool isEnabled() const { return cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
    void setEnabled(bool on) const { cuda() ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on); }
    at::ScalarType dtype() const {
        return cuda() ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
    }
    void setDtype(at::ScalarType t) const {
        cuda() ? at::autocast::set_autocast_gpu_dtype(t) : at::autocast::set_autocast_cpu_dtype(t);
    }
#endif
    c10::DeviceType m_type;
    bool m_enabled;
    bool m_wasEnabled = false;
    at::ScalarType m_previousType = at::kBFloat16;
};

// A handler of LibTorch's warnings (TORCH_WARN) for this thread, installed while it lives:
// take() sees each warning's message and returns whether it keeps it; the others go on to the
// handler it replaced. Since 2.0 the handler API is c10::WarningUtils and process() takes a
// c10::Warning; 1.13 has it in the namespace c10::Warning, and process() takes the parts.
// The handler is per thread in the 2.x releases (the only ones built with CUDA here, where the
// trainer counts syncs with it); 1.13's header calls it global, so there it is installed only
// by tests, on their own thread, while nothing else trains.
class ScopedWarningHandler : public c10::WarningHandler {
public:
    ScopedWarningHandler() : m_previous(get()) { set(this); }
    ~ScopedWarningHandler() override { set(m_previous); }
    ScopedWarningHandler(const ScopedWarningHandler&) = delete;
    ScopedWarningHandler& operator=(const ScopedWarningHandler&) = delete;

    virtual bool take(const std::string& message) = 0;

#if TORCH_VERSION_MAJOR >= 2
    void process(const c10::Warning& warning) override {
        if (!take(warning.msg()) && m_previous) m_previous->process(warning);
    }
    static c10::WarningHandler* get() { return c10::WarningUtils::get_warning_handler(); }
    static void set(c10::WarningHandler* h) { c10::WarningUtils::set_warning_handler(h); }
#else
    void process(const c10::SourceLocation& location, const std::string& message, const bool verbatim) override {
        if (!take(message) && m_previous) m_previous->process(location, message, verbatim);
    }
    static c10::WarningHandler* get() { return c10::Warning::get_warning_handler(); }
    static void set(c10::WarningHandler* h) { c10::Warning::set_warning_handler(h); }
#endif

private:
    c10::WarningHandler* m_previous;
};

} // namespace losslab
