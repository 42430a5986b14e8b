#include "progress_printer.h"

#include <cmath>
#include <cstdio>

#include "losslab/metrics/metric_names.h"

namespace losslab::cli {

using Clock = std::chrono::steady_clock;

std::string formatDuration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const long s = std::lround(seconds);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lds", s);
    return buf;
}

ProgressPrinter::ProgressPrinter(int totalRuns, bool terminal, bool quiet)
    : m_total(totalRuns), m_terminal(terminal), m_quiet(quiet) {}

void ProgressPrinter::line(const std::string& text) {
    if (m_lineOpen) std::fputs("\r\033[K", stderr);
    m_lineOpen = false;
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
}

void ProgressPrinter::finishLine() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_lineOpen) std::fputs("\n", stderr);
    m_lineOpen = false;
}

std::string ProgressPrinter::eta(const RunState& st) const {
    // Remaining epochs of this run at its own pace, then the other runs at the average pace
    // of finished runs (or this run's epoch time x max epochs before any has finished).
    // Early stopping usually ends runs sooner, so this errs long.
    const double thisRun = st.secondsPerEpoch * std::max(0, st.maxEpochs - st.epoch);
    const int left = m_total - m_finished - 1;
    const double perRun = m_finished > 0 ? m_finishedSeconds / m_finished : st.secondsPerEpoch * st.maxEpochs;
    if (st.secondsPerEpoch <= 0 && m_finished == 0) return "?";
    return formatDuration(thisRun + std::max(0, left) * perRun);
}

void ProgressPrinter::redraw(const RunState& st) {
    const double inEpoch = st.stepsPerEpoch > 0
        ? static_cast<double>(st.step - st.stepAtEpochStart) / static_cast<double>(st.stepsPerEpoch) : 0.0;
    const double runFrac = st.maxEpochs > 0 ? std::min(1.0, (st.epoch - 1 + std::min(1.0, inEpoch)) / st.maxEpochs) : 0.0;
    const double total = (m_finished + runFrac) / std::max(1, m_total);
    const int width = 24;
    const int filled = static_cast<int>(std::lround(total * width));
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    char buf[512];
    std::snprintf(buf, sizeof buf, "[%s] %3.0f%% | run %d/%d %s | epoch %d/%d | ETA %s", bar.c_str(), total * 100,
                  m_finished + 1, m_total, st.label.c_str(), std::min(std::max(1, st.epoch), std::max(1, st.maxEpochs)), st.maxEpochs, eta(st).c_str());
    std::fprintf(stderr, "\r\033[K%s", buf);
    std::fflush(stderr);
    m_lineOpen = true;
    m_lastDraw = Clock::now();
}

void ProgressPrinter::onEvent(const RunEvent& e) {
    std::lock_guard<std::mutex> lock(m_mutex);
    RunState& st = m_runs[e.runId];
    if (!e.label.empty()) st.label = e.label;
    if (st.label.empty()) st.label = "run #" + std::to_string(e.runId);
    switch (e.kind) {
    case RunEvent::Kind::Waiting:
        return;
    case RunEvent::Kind::Started:
        st.started = Clock::now();
        st.maxEpochs = e.maxEpochs;
        st.epoch = 1;
        if (!m_terminal && !m_quiet) line("run #" + std::to_string(e.runId) + " " + st.label + ": started on " + e.message);
        if (m_terminal && !m_quiet) redraw(st);
        return;
    case RunEvent::Kind::Step:
        st.step = e.step;
        st.stepsPerEpoch = e.stepsPerEpoch;
        st.epoch = e.epoch;
        st.maxEpochs = e.maxEpochs;
        if (m_terminal && !m_quiet && Clock::now() - m_lastDraw > std::chrono::milliseconds(100)) redraw(st);
        return;
    case RunEvent::Kind::Epoch: {
        st.secondsPerEpoch = std::chrono::duration<double>(Clock::now() - st.started).count() / e.epoch;
        st.stepAtEpochStart = e.step;
        st.maxEpochs = e.maxEpochs;
        const double valAcc = findMetricValue(e.metrics, "val", "acc");
        const double testAcc = findMetricValue(e.metrics, "test", "acc");
        const double loss = findMetricValue(e.metrics, "train", "loss");
        if (!m_quiet) {
            // A protocol without a validation split (fixed_epochs) has no validation accuracy.
            char val[40] = "";
            if (!std::isnan(valAcc)) std::snprintf(val, sizeof val, ", val acc %.4f", valAcc);
            char buf[320];
            std::snprintf(buf, sizeof buf, "run #%lld %s: epoch %d/%d train loss %.4f%s, test acc %.4f (best epoch %d)",
                          static_cast<long long>(e.runId), st.label.c_str(), e.epoch, e.maxEpochs, loss, val, testAcc, e.bestEpoch);
            if (!m_terminal) line(buf);
        }
        st.epoch = e.epoch + 1;
        if (m_terminal && !m_quiet) redraw(st);
        return;
    }
    case RunEvent::Kind::Note:
        if (!m_quiet) line("run #" + std::to_string(e.runId) + " " + st.label + ": " + e.message);
        if (m_terminal && !m_quiet) redraw(st);
        return;
    case RunEvent::Kind::Finished: {
        ++m_finished;
        m_finishedSeconds += std::chrono::duration<double>(Clock::now() - st.started).count();
        std::string text = "run #" + std::to_string(e.runId) + " " + st.label + ": " + runStatusName(e.status) + " after " +
                           std::to_string(e.epoch) + " epoch(s)";
        if (e.bestEpoch > 0) text += ", reports epoch " + std::to_string(e.bestEpoch);
        if (!e.message.empty()) text += " (" + e.message + ")";
        if (!m_quiet || e.status != RunStatus::Completed) line(text);
        m_runs.erase(e.runId);
        return;
    }
    }
}

} // namespace losslab::cli
