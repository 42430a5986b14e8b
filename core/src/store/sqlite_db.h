#pragma once
// Private to the store: small RAII wrappers over the SQLite C API. Every failure becomes an
// Error naming the database file, so store code never checks return codes by hand and
// never leaks a handle or statement on the exception path.
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <string>

namespace losslab::sqlite {

class Database {
public:
    Database() = default;
    ~Database();
    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    // Returns the SQLite result code and fills `message` instead of throwing: only the
    // caller knows whether a failure means "cannot read" or "cannot be written". Messages
    // name `displayPath` when given (the file behind a "file:...?immutable=1" URI).
    int open(const std::string& path, int flags, std::string& message, const std::string& displayPath = {});
    void close();

    sqlite3* handle() const { return m_db; }
    const std::string& path() const { return m_path; }

    void exec(const std::string& sql);
    // Runs `sql` and ignores failures: for rollbacks on paths that are already failing.
    void execQuietly(const char* sql) noexcept;
    // First column of the first row as text ("" when there is no row); for PRAGMAs.
    std::string queryText(const std::string& sql);

    std::int64_t lastInsertId() const;
    int changes() const;
    // Primary result code (SQLITE_NOTADB, ...) of the last failure thrown by this object
    // or its statements; lets callers word special cases without parsing messages.
    int lastFailureCode() const { return m_lastFailureCode; }
    // Forgets it, so that a later look tells whether the code in between failed in SQLite.
    void clearLastFailure() { m_lastFailureCode = SQLITE_OK; }

    [[noreturn]] void fail(const std::string& context); // reason from sqlite3_errmsg
    [[noreturn]] void fail(const std::string& context, int code, const std::string& reason);

private:
    sqlite3* m_db = nullptr;
    std::string m_path;
    int m_lastFailureCode = SQLITE_OK;
};

class Statement {
public:
    Statement(Database& db, const std::string& sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Parameter indexes are 1-based, as in SQLite.
    void bindInt64(int index, std::int64_t value);
    void bindDouble(int index, double value);
    void bindText(int index, const std::string& value);
    // Empty text is stored as NULL so that "IS NULL" queries mean "not set".
    void bindTextOrNull(int index, const std::string& value);
    void bindNull(int index);

    bool step(); // true while a row is available
    void run();  // steps to completion, for statements without results
    void reset(); // ready to run again; bindings are kept until rebound

    // Column indexes are 0-based, as in SQLite.
    bool isNull(int column) const;
    std::int64_t int64(int column) const;
    int int32(int column) const;
    // SQLite stores NaN as NULL, so NULL reads back as `ifNull` (NaN unless told otherwise).
    double real(int column, double ifNull = std::numeric_limits<double>::quiet_NaN()) const;
    std::string text(int column) const; // "" for NULL

private:
    Database& m_db;
    sqlite3_stmt* m_stmt = nullptr;
};

} // namespace losslab::sqlite
