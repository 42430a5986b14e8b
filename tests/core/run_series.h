#pragma once
// The stored numbers of runs, for tests that compare runs bit for bit (seeded runs alone or
// beside others, resumed runs).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "losslab/store/run_store.h"

namespace losslab::fixtures {

// Every stored number of a run except timings, keyed "epoch/split/metric" and "step N/metric".
using Series = std::map<std::string, double>;
// A run's identity within an experiment: "loss protocol seed".
using RunKey = std::string;

inline Series runSeries(const RunStore& store, std::int64_t id) {
    Series out;
    for (const auto& row : store.epochMetrics({id}))
        if (row.value.metric != "wall_s" && row.value.metric != "examples_per_s")
            out[std::to_string(row.epoch) + "/" + row.value.split + "/" + row.value.metric] = row.value.value;
    for (const auto& row : store.stepMetrics(id)) out["step " + std::to_string(row.step) + "/" + row.metric] = row.value;
    return out;
}

// The series of runs `ids` by RunKey; every run must have completed.
inline std::map<RunKey, Series> seriesByKey(const RunStore& store, const std::vector<std::int64_t>& ids) {
    std::map<RunKey, Series> out;
    RunFilter filter;
    filter.runIds = ids;
    for (const auto& r : store.runs(filter)) {
        EXPECT_EQ(r.status, RunStatus::Completed) << "run " << r.id << ": " << r.error;
        out[r.lossName + " " + r.protocol + " " + std::to_string(r.seed)] = runSeries(store, r.id);
    }
    return out;
}

inline void expectIdenticalSeries(const std::map<RunKey, Series>& a, const std::map<RunKey, Series>& b,
                                  const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (const auto& [key, values] : a) {
        ASSERT_TRUE(b.count(key)) << what << ": " << key;
        ASSERT_FALSE(values.empty()) << key;
        // Exact equality: bit-identical numbers, not merely close ones.
        EXPECT_EQ(values, b.at(key)) << what << ": " << key;
    }
}

} // namespace losslab::fixtures
