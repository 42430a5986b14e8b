#include "losslab/training/stopping_rule.h"

#include "losslab/error.h"

namespace losslab {

StoppingRule StoppingRule::earlyStopping(int patience, int maxEpochs) {
    if (patience < 1 || maxEpochs < 1) throw Error("early stopping needs patience >= 1 and max epochs >= 1");
    return StoppingRule(true, patience, maxEpochs);
}

StoppingRule StoppingRule::exactEpochs(int epochs) {
    if (epochs < 1) throw Error("a run must train at least one epoch (asked for " + std::to_string(epochs) + ")");
    return StoppingRule(false, 0, epochs);
}

bool StoppingRule::observe(int epoch, double valAcc) {
    m_lastEpoch = epoch;
    if (!m_early) {
        m_reported = epoch;
        return true;
    }
    // Strictly better only: ties keep the earlier epoch. NaN never improves.
    if (valAcc > m_best) {
        m_best = valAcc;
        m_reported = epoch;
        m_sinceBest = 0;
        return true;
    }
    ++m_sinceBest;
    return false;
}

bool StoppingRule::shouldStop() const {
    if (m_lastEpoch >= m_maxEpochs) return true;
    return m_early && m_sinceBest >= m_patience;
}

} // namespace losslab
