#pragma once
// Private to the store: opening a database file, recognising it and bringing its schema up
// to kSchemaVersion. Nothing here changes a file that turns out to be foreign or too new.
#include <string>

#include "journal_mode.h"
#include "sqlite_db.h"

namespace losslab::Internal {

// The writer's connection: creates the file (and its folder) when missing, refuses foreign,
// too new or unwritable files with an Error naming the path, applies the journal and the
// migrations. `extraOpenFlags` are added to sqlite3_open_v2's (SQLITE_OPEN_URI for ATTACH of
// a read-only URI).
sqlite::Database openWriteConnection(const std::string& path, const JournalChoice& journal,
                                     int extraOpenFlags = 0);
// The reader's connection to a file the writer has already set up.
sqlite::Database openReadConnection(const std::string& path, const JournalChoice& journal);
// A read-only connection to an existing LossLab database of any schema version up to
// kSchemaVersion, which `version` receives (0 for a file without tables, accepted only with
// `allowEmpty`); changes nothing. Throws Error naming the path when it is missing, a folder,
// empty, not SQLite, not LossLab's, or newer.
//
// Also where nothing can be written: a WAL-mode file in a read-only folder or mount, whose
// reader cannot create the shared-memory file (FILE-shm), is opened immutable when FILE-wal
// holds no commits (then the file alone is the database). With commits in FILE-wal it is
// refused, saying so: immutable would read the file without them.
sqlite::Database openReadOnlyConnection(const std::string& path, int& version, bool allowEmpty);
// "file:" and the absolute path, percent-encoded where a URI needs it, then "?" and `query`
// ("mode=ro"): for sqlite3_open_v2 with SQLITE_OPEN_URI and for ATTACH.
std::string fileUri(const std::string& path, const std::string& query);
// A schema_version value from the meta table: a positive int, nothing else.
bool parseVersion(const std::string& text, int& out);

} // namespace losslab::Internal
