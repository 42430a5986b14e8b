#pragma once
// CurveBook: the curves of a set of runs, kept as plain vectors for plotting: per epoch
// (every stored metric by "split/metric", the optimiser step and the cumulative training
// time at the end of the epoch) and per logged step (training loss). Fed live from
// RunEvents or loaded from the store. Qt-free and torch-free.
//
// Thread rules: not synchronised; one owner thread at a time (the GUI thread, or a
// background loader that hands the finished book over).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "losslab/runner/run_event.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/records.h"

namespace losslab {

class RunStore;

struct RunCurves {
    RunRecord run;
    std::vector<double> epochs;      // 1-based epoch numbers, increasing
    std::vector<double> epochSteps;  // optimiser steps at the end of each epoch
    std::vector<double> epochWall;   // cumulative training seconds at the end of each epoch
    std::map<std::string, std::vector<double>> epochValues; // "val/acc" -> one per epoch (NaN if absent)
    std::vector<double> steps;       // logged optimiser steps, increasing
    std::vector<double> stepLoss;    // mean training loss over the steps since the last log
    std::vector<double> stepWall;    // training seconds at each logged step (interpolated)
    // Changes whenever this run's record or curves change; unique over every book of the
    // process, so a plot can tell which of its runs to draw again.
    std::uint64_t revision = 0;
    // The run's training recipe (grouping by loss), read from run.specYaml once: computed by
    // buildCurveSeries when first needed, dropped when the record's YAML changes.
    mutable std::shared_ptr<const RunRecipe> trainingRecipe;
};

class CurveBook {
public:
    // Adds the run, or refreshes the record of a run already in the book (curves kept).
    void addRun(const RunRecord& run);
    // An epoch that comes again (a resumed run re-trains from its checkpoint) replaces it
    // and everything after it. Events of runs not in the book are ignored.
    void apply(const RunEvent& event);
    void remove(std::int64_t runId);
    void clear();

    const RunCurves* find(std::int64_t runId) const;
    std::vector<std::int64_t> runIds() const; // in the order added
    std::size_t size() const { return m_order.size(); }
    // Changes whenever a curve or record changes: plots redraw only when it moved (and then
    // only the runs whose own RunCurves::revision moved).
    std::uint64_t revision() const { return m_revision; }

    // Every "split/metric" with values in the book, sorted.
    std::vector<std::string> epochMetricNames() const;

    // Reads the runs (records, epoch rows, step rows) from the store; runs that no longer
    // exist are left out. Blocks on the store's read connection: call off the GUI thread.
    static CurveBook load(const RunStore& store, const std::vector<std::int64_t>& runIds);

private:
    void appendEpoch(RunCurves& curves, int epoch, std::int64_t step, const std::vector<MetricValue>& metrics);
    void appendStep(RunCurves& curves, std::int64_t step, double loss);
    void touch(RunCurves& curves); // a new revision for the run and the book

    std::map<std::int64_t, RunCurves> m_runs;
    std::vector<std::int64_t> m_order;
    std::uint64_t m_revision = 0;
};

} // namespace losslab
