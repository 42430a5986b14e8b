#pragma once
// When a run stops and which epoch it reports (PAPER-NOTES, "Protocols"). Torch-free.
//   early stopping: stop once validation accuracy has not improved for `patience`
//     consecutive epochs (or at max epochs); report the best epoch (the first to reach the
//     best accuracy), whose weights the trainer restores;
//   exact epochs (same_epochs_as_ce, fixed_epochs): train exactly N epochs, report the last.
#include <limits>

namespace losslab {

class StoppingRule {
public:
    static StoppingRule earlyStopping(int patience, int maxEpochs);
    static StoppingRule exactEpochs(int epochs);

    // Records the validation accuracy of `epoch` (1-based, called in order). Returns true
    // when this epoch becomes the reported one (its weights should be kept).
    bool observe(int epoch, double valAcc);
    bool shouldStop() const;

    int reportedEpoch() const { return m_reported; } // 0 before the first epoch
    double bestValue() const { return m_best; }
    int epochsWithoutImprovement() const { return m_sinceBest; }
    int maxEpochs() const { return m_maxEpochs; }

    // What a checkpoint keeps so that a resumed run decides exactly as an uninterrupted one.
    struct State {
        int lastEpoch = 0;
        int reported = 0;
        int sinceBest = 0;
        double best = 0.0;
    };
    State state() const { return {m_lastEpoch, m_reported, m_sinceBest, m_best}; }
    void restore(const State& s) {
        m_lastEpoch = s.lastEpoch;
        m_reported = s.reported;
        m_sinceBest = s.sinceBest;
        m_best = s.best;
    }
    bool isEarlyStopping() const { return m_early; }

private:
    StoppingRule(bool early, int patience, int maxEpochs) : m_early(early), m_patience(patience), m_maxEpochs(maxEpochs) {}

    bool m_early;
    int m_patience;
    int m_maxEpochs;
    int m_lastEpoch = 0;
    int m_reported = 0;
    int m_sinceBest = 0;
    double m_best = -std::numeric_limits<double>::infinity();
};

} // namespace losslab
