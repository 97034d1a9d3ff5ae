// PostgreSQL backend of inventory::Store (docs/store.md "PostgreSQL"): the
// shared store (sql_store.h) on libpq connections (pg_conn.h) with the schema
// of pg_schema.h. Only opening lives here.
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "common/status.h"
#include "inventory/store.h"
#include "pg_conn.h"
#include "pg_schema.h"
#include "sql_store.h"

namespace inventory {
namespace pg {
namespace {

// Query connections per Store. Each central's importer writes on its own
// connection; reads (manifests, the admin API) take one of these, so they
// never queue behind an import. Small: every central holds its own.
constexpr size_t kMaxReaders = 4;

common::StatusOr<std::unique_ptr<sql::Conn>> OpenReader(const std::string& conninfo,
                                                        const std::string& name) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> db, PgConn::Connect(conninfo, name, true));
  ASSIGN_OR_RETURN(int64_t version, ReadSchemaVersion(db.get(), name));
  if (version == 0) {
    return common::FailedPrecondition(name + ": not an initialized store (no schema)");
  }
  if (version != kSchemaVersion) {
    return common::FailedPrecondition(
        name + ": schema version " + std::to_string(version) +
        (version > kSchemaVersion ? " is newer than this program's "
                                  : " is older than this program's ") +
        std::to_string(kSchemaVersion) +
        (version < kSchemaVersion ? "; start a central once to upgrade it" : ""));
  }
  return std::unique_ptr<sql::Conn>(std::move(db));
}

}  // namespace
}  // namespace pg

common::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo,
                                                           bool read_only) {
  if (conninfo.empty()) return common::InvalidArgument("store connection string is empty");
  const std::string name = pg::DescribeConninfo(conninfo);
  sql::OpenReaderFn open_reader = [conninfo, name] { return pg::OpenReader(conninfo, name); };
  if (!read_only) {
    ASSIGN_OR_RETURN(std::unique_ptr<pg::PgConn> writer, pg::PgConn::Connect(conninfo, name, false));
    RETURN_IF_ERROR(pg::Migrate(writer.get(), name));
    return std::unique_ptr<Store>(std::make_unique<sql::SqlStore>(
        std::move(writer), name, std::move(open_reader), pg::kMaxReaders));
  }
  // The first reader checks the database now, so a wrong connection string
  // fails the open rather than the first query.
  ASSIGN_OR_RETURN(std::unique_ptr<sql::Conn> first, pg::OpenReader(conninfo, name));
  auto store = std::make_unique<sql::SqlStore>(nullptr, name, std::move(open_reader),
                                               pg::kMaxReaders);
  store->AdoptReader(std::move(first));
  return std::unique_ptr<Store>(std::move(store));
}

common::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreLocation& where, bool read_only) {
  if (where.backend == "sqlite") return OpenSqliteStore(where.path, read_only);
  if (where.backend == "postgresql") return OpenPostgresStore(where.conninfo, read_only);
  return common::InvalidArgument("store backend '" + where.backend +
                                 "' is neither sqlite nor postgresql");
}

}  // namespace inventory
