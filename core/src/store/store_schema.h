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
sqlite::Database openReadOnlyConnection(const std::string& path, int& version, bool allowEmpty);
// A schema_version value from the meta table: a positive int, nothing else.
bool parseVersion(const std::string& text, int& out);

} // namespace losslab::Internal
