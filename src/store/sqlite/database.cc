#include "store/sqlite/database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "core/log.h"
#include "store/sqlite/schema.h"

namespace bulwark::store::sqlite {
namespace {

// Logs what SQLite said (its messages name tables and constraints, never bound values).
// A constraint failure is an expected answer (a taken username), not worth a warning.
void logFailure(sqlite3* connection, int code, std::string_view what) {
  if ((code & 0xff) == SQLITE_CONSTRAINT) {
    return;
  }
  core::log(core::LogLevel::kWarn, "sqlite operation failed",
            {{"operation", what},
             {"code", sqlite3_errstr(code)},
             {"detail", connection != nullptr ? sqlite3_errmsg(connection) : ""}});
}

}  // namespace

std::int64_t toMillis(core::SystemTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

core::SystemTime fromMillis(std::int64_t millis) {
  return core::SystemTime{
      std::chrono::duration_cast<core::SystemTime::duration>(std::chrono::milliseconds{millis})};
}

StoreError storeErrorOf(int sqlite_code) {
  switch (sqlite_code & 0xff) {
    case SQLITE_CONSTRAINT:
      return StoreError::kAlreadyExists;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
    case SQLITE_SCHEMA:
      return StoreError::kCorrupt;
    default:
      return StoreError::kUnavailable;
  }
}

Statement::~Statement() {
  if (statement_ != nullptr) {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}

Statement& Statement::bindBlob(int index, std::span<const std::uint8_t> bytes) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static const std::uint8_t kEmpty = 0;
  sqlite3_bind_blob(statement_, index, bytes.empty() ? &kEmpty : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(statement_, index);
  return *this;
}

int Statement::step() { return sqlite3_step(statement_); }

Result<void> Statement::run() {
  int code = SQLITE_ROW;
  while (code == SQLITE_ROW) {
    code = step();
  }
  if (code != SQLITE_DONE) {
    logFailure(sqlite3_db_handle(statement_), code, "step");
    return storeErrorOf(code);
  }
  return {};
}

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(statement_, column);
  const int size = sqlite3_column_bytes(statement_, column);
  return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(statement_, column);
}

std::string Statement::blob(int column) const {
  const void* data = sqlite3_column_blob(statement_, column);
  const int size = sqlite3_column_bytes(statement_, column);
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

Result<std::unique_ptr<Database>> Database::open(const SqliteConfig& config) {
  if (config.path.empty() || config.path == ":memory:" || config.path.rfind("file:", 0) == 0) {
    // Each store has its own connection: a private in-memory database would not be shared.
    return StoreError::kInvalidArgument;
  }
  // Password hashes and refresh-token hashes live here: create the file owner-only (SQLite's
  // -wal and -shm files take the database file's mode), and narrow a file an earlier version
  // created readable by group or others.
  if (const int fd = ::open(config.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0) {
    struct stat info {};
    if (::fstat(fd, &info) == 0 && (info.st_mode & 077) != 0 &&
        ::fchmod(fd, info.st_mode & 0700) == 0) {
      core::log(core::LogLevel::kWarn, "database file was readable by others; now owner-only",
                {{"path", config.path}});
    }
    ::close(fd);
  }
  sqlite3* connection = nullptr;
  const int code = sqlite3_open_v2(
      config.path.c_str(), &connection,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  if (code != SQLITE_OK) {
    logFailure(connection, code, "open");
    sqlite3_close_v2(connection);
    return storeErrorOf(code) == StoreError::kCorrupt ? StoreError::kCorrupt
                                                      : StoreError::kUnavailable;
  }
  std::unique_ptr<Database> database(new Database(connection));
  std::lock_guard lock(database->mutex_);
  if (auto configured = database->configure(config); !configured) {
    return configured.error();
  }
  if (auto migrated = database->migrate(); !migrated) {
    return migrated.error();
  }
  return database;
}

Database::~Database() {
  for (auto& [sql, statement] : statements_) {
    sqlite3_finalize(statement);
  }
  sqlite3_close_v2(connection_);
}

Result<void> Database::configure(const SqliteConfig& config) {
  sqlite3_busy_timeout(connection_, static_cast<int>(config.busy_timeout.count()));
  sqlite3_extended_result_codes(connection_, 1);
  if (auto wal = exec("PRAGMA journal_mode=WAL"); !wal) {
    return wal;
  }
  if (auto keys = exec("PRAGMA foreign_keys=ON"); !keys) {
    return keys;
  }
  return exec(config.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

// Several processes may open a fresh file at once: the version check and the migrations run in
// one BEGIN IMMEDIATE transaction, so exactly one of them migrates.
Result<void> Database::migrate() {
  if (auto begun = exec("BEGIN IMMEDIATE"); !begun) {
    return begun;
  }
  auto body = [&]() -> Result<void> {
    if (auto created = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        !created) {
      return created;
    }
    auto select = prepare("SELECT coalesce(max(version), 0) FROM schema_version");
    if (!select) {
      return select.error();
    }
    if (const int code = select->step(); code != SQLITE_ROW) {
      return storeErrorOf(code);
    }
    const auto version = static_cast<std::size_t>(select->integer(0));
    const auto& list = migrations();
    if (version > list.size()) {
      core::log(core::LogLevel::kError, "database schema is newer than this build",
                {{"version", std::to_string(version)}, {"supported", std::to_string(list.size())}});
      return StoreError::kCorrupt;
    }
    for (std::size_t next = version; next < list.size(); ++next) {
      if (auto applied = exec(std::string(list[next]).c_str()); !applied) {
        return applied;
      }
    }
    if (version == list.size()) {
      return {};
    }
    if (auto cleared = exec("DELETE FROM schema_version"); !cleared) {
      return cleared;
    }
    auto insert = prepare("INSERT INTO schema_version (version) VALUES (?1)");
    if (!insert) {
      return insert.error();
    }
    insert->bind(1, static_cast<std::int64_t>(list.size()));
    return insert->run();
  };
  if (auto done = body(); !done) {
    (void)exec("ROLLBACK");
    return done;
  }
  return exec("COMMIT");
}

Result<Statement> Database::prepare(std::string_view sql) {
  const std::string key(sql);
  auto it = statements_.find(key);
  if (it == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    const int code = sqlite3_prepare_v3(connection_, key.c_str(), static_cast<int>(key.size()),
                                        SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (code != SQLITE_OK) {
      logFailure(connection_, code, "prepare");
      return storeErrorOf(code);
    }
    it = statements_.emplace(key, statement).first;
  }
  return Statement(it->second);
}

Result<void> Database::exec(const char* sql) {
  const int code = sqlite3_exec(connection_, sql, nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) {
    logFailure(connection_, code, "exec");
    return storeErrorOf(code);
  }
  return {};
}

int Database::changes() const { return sqlite3_changes(connection_); }

}  // namespace bulwark::store::sqlite
