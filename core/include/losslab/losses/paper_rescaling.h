#pragma once
// The paper's (k, M) for the rescaled square loss (Hui & Belkin 2021, Table 9), and the
// class-count rule for tasks not in the table: fewer than 42 classes -> (1, 1);
// 42 to 999 -> (1, 15); 1000 and more -> (15, 30). Torch-free.
#include <cstdint>
#include <string>

namespace losslab {

struct Rescaling {
    double k = 1.0;
    double M = 1.0;
    std::string source; // "Table 9 (mnist)" or "class-count rule (10 classes)"
};

// `paperDataset` is a Table 9 key ("mnist", "cifar10", "enwik8", ...) or empty.
Rescaling paperRescaling(const std::string& paperDataset, std::int64_t numClasses);

} // namespace losslab
