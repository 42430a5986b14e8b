#pragma once
// Data that is not where a task looks, told apart from other errors: only these get the task's
// hint on how to get the data. In a header of its own, as few files throw or catch it.
#include "losslab/error.h"

namespace losslab {

struct TaskInfo;

// A data folder or file that is missing. A task adds its TaskInfo::dataHint (how to get the
// data) to these only; a file that is there but damaged gets a plain Error, whose message
// stands alone (the hint would send the user to data.root, which is right).
class DataNotFoundError : public Error {
public:
    using Error::Error;
};

// For a task's loadData catch block: rethrows the Error being handled with "<task id>: " before
// its message and, for a DataNotFoundError, the task's data hint after it. Call only inside
// `catch (const Error&)`. Defined in tasks/task.cpp.
[[noreturn]] void rethrowDataError(const TaskInfo& info);

} // namespace losslab
