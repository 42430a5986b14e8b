// libFuzzer target: the run database opener (RunStore on a corrupted or foreign file) and its reads.
// The input format is described at runRunStoreInput() in fuzz_entry_points.h.
#include <cstddef>
#include <cstdint>

#include "fuzz_entry_points.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        losslab::fuzz::runRunStoreInput(data, size);
    } catch (const losslab::Error&) {
        // Refused with the project's error: the expected outcome for bad input.
    }
    return 0;
}
