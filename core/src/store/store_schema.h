#pragma once
// Private to the store: opening a database file, recognising it and bringing its schema up
// to kSchemaVersion. Nothing here changes a file that turns out to be foreign or too new.
#include <string>

#include "sqlite_db.h"

namespace losslab::Internal {

// The writer's connection: creates the file (and its folder) when missing, refuses foreign,
// too new or unwritable files with an Error naming the path, and applies the migrations.
sqlite::Database openWriteConnection(const std::string& path);
// The reader's connection to a file the writer has already set up.
sqlite::Database openReadConnection(const std::string& path);
// A schema_version value from the meta table: a positive int, nothing else.
bool parseVersion(const std::string& text, int& out);

} // namespace losslab::Internal
