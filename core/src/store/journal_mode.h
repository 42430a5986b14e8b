#pragma once
// Private to the store: which journal a database file gets. SQLite's write-ahead log keeps its
// index in shared memory (the -shm file, mapped by every connection), which only processes of
// one host share; on a network file system two hosts would each see their own copy and could
// corrupt the file. There the store uses the rollback journal (journal_mode=DELETE) instead.
#include <string>

namespace losslab::Internal {

struct JournalChoice {
    bool wal = true;
    std::string note; // one line for the user; "" for WAL on a local disk
};

// The environment variable that overrides the choice: "wal" or "delete".
constexpr const char* kJournalVariable = "LOSSLAB_STORE_JOURNAL";

// The journal for a database at `path`: WAL, unless its folder (or the nearest folder above it
// that exists) is on a network file system, or LOSSLAB_STORE_JOURNAL says otherwise. Throws
// Error naming the variable when it holds anything but "wal" or "delete" (or is empty).
JournalChoice chooseJournal(const std::string& path);

// The network file system `folder` is on ("nfs", "lustre", "fuse.sshfs", ...), or "" when it is
// on a local one or cannot be told. A folder that does not exist is judged by the nearest one
// above it that does.
std::string networkFileSystemOf(const std::string& folder);

} // namespace losslab::Internal
