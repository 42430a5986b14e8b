#include "sqlite_db.h"

#include <cstring>
#include <utility>

#include "losslab/error.h"

namespace losslab::sqlite {
namespace {

// Enough of a statement to recognise it in a message without pasting whole schemas.
std::string sqlContext(const std::string& sql) {
    constexpr std::size_t kShown = 60;
    return "SQL error in \"" + (sql.size() > kShown ? sql.substr(0, kShown) + "..." : sql) + "\"";
}

} // namespace

Database::~Database() {
    close();
}

Database::Database(Database&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)),
      m_path(std::move(other.m_path)),
      m_lastFailureCode(other.m_lastFailureCode) {}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        close();
        m_db = std::exchange(other.m_db, nullptr);
        m_path = std::move(other.m_path);
        m_lastFailureCode = other.m_lastFailureCode;
    }
    return *this;
}

int Database::open(const std::string& path, int flags, std::string& message, const std::string& displayPath) {
    close();
    m_path = displayPath.empty() ? path : displayPath;
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        // The OS reason ("Permission denied") is what tells the user what to fix.
        message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        const int osError = db ? sqlite3_system_errno(db) : 0;
        if (osError != 0) message += std::string(" (") + std::strerror(osError) + ")";
        sqlite3_close(db);
        return rc;
    }
    m_db = db;
    sqlite3_extended_result_codes(m_db, 1);
    return SQLITE_OK;
}

void Database::close() {
    if (m_db) {
        // close_v2 defers the close if a statement escaped; nothing here leaks one, but a
        // deferred close is still better than a leaked file handle.
        sqlite3_close_v2(m_db);
        m_db = nullptr;
    }
}

void Database::fail(const std::string& context) {
    if (!m_db) fail(context, SQLITE_MISUSE, "the database is not open");
    const int code = sqlite3_extended_errcode(m_db);
    std::string reason = sqlite3_errmsg(m_db);
    switch (code & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        // The OS reason tells a full disk (ENOSPC) from a file-size limit (EFBIG) or a failing one.
        if (const int os = sqlite3_system_errno(m_db); os != 0) reason += std::string(" (") + std::strerror(os) + ")";
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        reason += "; the file is damaged: keep a copy of it, and see docs/database.md#a-damaged-file";
        break;
    default: break;
    }
    fail(context, code, reason);
}

void Database::fail(const std::string& context, int code, const std::string& reason) {
    m_lastFailureCode = code & 0xff;
    throw Error(m_path + ": " + context + ": " + reason);
}

void Database::exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &message);
    sqlite3_free(message); // errmsg() below carries the same text
    if (rc != SQLITE_OK) fail(sqlContext(sql));
}

void Database::execQuietly(const char* sql) noexcept {
    if (m_db) sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr);
}

std::string Database::queryText(const std::string& sql) {
    Statement statement(*this, sql);
    return statement.step() ? statement.text(0) : std::string();
}

std::int64_t Database::lastInsertId() const {
    return sqlite3_last_insert_rowid(m_db);
}

int Database::changes() const {
    return sqlite3_changes(m_db);
}

Statement::Statement(Database& db, const std::string& sql) : m_db(db) {
    const int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size()),
                                      &m_stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(m_stmt);
        m_stmt = nullptr;
        db.fail(sqlContext(sql));
    }
}

Statement::~Statement() {
    sqlite3_finalize(m_stmt);
}

void Statement::bindInt64(int index, std::int64_t value) {
    if (sqlite3_bind_int64(m_stmt, index, value) != SQLITE_OK) m_db.fail("cannot bind a value");
}

void Statement::bindDouble(int index, double value) {
    if (sqlite3_bind_double(m_stmt, index, value) != SQLITE_OK) m_db.fail("cannot bind a value");
}

void Statement::bindText(int index, const std::string& value) {
    if (sqlite3_bind_text(m_stmt, index, value.c_str(), static_cast<int>(value.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK) {
        m_db.fail("cannot bind a value");
    }
}

void Statement::bindTextOrNull(int index, const std::string& value) {
    if (value.empty()) {
        bindNull(index);
    } else {
        bindText(index, value);
    }
}

void Statement::bindNull(int index) {
    if (sqlite3_bind_null(m_stmt, index) != SQLITE_OK) m_db.fail("cannot bind a value");
}

bool Statement::step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string sql = sqlite3_sql(m_stmt) ? sqlite3_sql(m_stmt) : "";
    const int code = sqlite3_extended_errcode(m_db.handle());
    const std::string reason = sqlite3_errmsg(m_db.handle());
    // Reset so the statement does not hold its read/write lock past the failure.
    sqlite3_reset(m_stmt);
    m_db.fail(sqlContext(sql), code, reason);
}

void Statement::run() {
    while (step()) {
    }
}

void Statement::reset() {
    sqlite3_reset(m_stmt);
}

bool Statement::isNull(int column) const {
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

std::int64_t Statement::int64(int column) const {
    return sqlite3_column_int64(m_stmt, column);
}

int Statement::int32(int column) const {
    return sqlite3_column_int(m_stmt, column);
}

double Statement::real(int column, double ifNull) const {
    if (isNull(column)) return ifNull;
    return sqlite3_column_double(m_stmt, column);
}

std::string Statement::text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, column));
    if (!data) return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column)));
}

} // namespace losslab::sqlite
