#include "support/test_store.h"

#include <sqlite3.h>

#include <functional>
#include <iomanip>
#include <sstream>
#include <string>

#ifdef STORE_TEST_POSTGRES
#include "support/pg_server.h"
#endif

namespace testing_support {

#ifdef STORE_TEST_POSTGRES
namespace {
// A database name from the test's path: paths are unique per test.
std::string DatabaseOf(const std::string& path) {
  std::ostringstream name;
  name << "t" << std::hex << std::setw(16) << std::setfill('0') << std::hash<std::string>{}(path);
  return name.str();
}
}  // namespace

common::StatusOr<std::unique_ptr<inventory::Store>> OpenTestStore(const std::string& path,
                                                                  bool read_only) {
  PgServer& server = SharedPgServer();
  const std::string db = DatabaseOf(path);
  if (!read_only) {
    common::Status st = server.CreateDatabase(db);
    if (!st.ok() && st.code() != common::Code::kAlreadyExists) return st;
  }
  return inventory::OpenPostgresStore(server.Conninfo(db), read_only);
}

common::StatusOr<std::string> QueryTestStore(const std::string& path, const std::string& sql) {
  return SharedPgServer().Query(DatabaseOf(path), sql);
}

common::Status ExecTestStore(const std::string& path, const std::string& sql) {
  return SharedPgServer().Query(DatabaseOf(path), sql).status();
}

#else

common::StatusOr<std::unique_ptr<inventory::Store>> OpenTestStore(const std::string& path,
                                                                  bool read_only) {
  return inventory::OpenSqliteStore(path, read_only);
}

common::StatusOr<std::string> QueryTestStore(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return common::Internal("open " + path);
  }
  sqlite3_stmt* stmt = nullptr;
  common::StatusOr<std::string> out = std::string();
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    out = common::Internal(sql + ": " + sqlite3_errmsg(db));
  } else {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out = std::string(text != nullptr ? text : "");
    } else if (rc != SQLITE_DONE) {
      out = common::Internal(sql + ": " + sqlite3_errmsg(db));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

common::Status ExecTestStore(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return common::Internal("open " + path);
  }
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  common::Status st;
  if (rc != SQLITE_OK) st = common::Internal(sql + ": " + (err != nullptr ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  return st;
}

#endif

}  // namespace testing_support
