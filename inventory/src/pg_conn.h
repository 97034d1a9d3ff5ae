// PostgreSQL (libpq) behind the SQL seam (sql.h): SQLSTATE -> Status,
// statements, a connection. Nothing here knows the schema.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "sql.h"

namespace inventory::pg {

// Maps a failed result (or, with res null, a failed connection) to the
// project's codes (docs/store.md "Errors"):
//   40001 serialization_failure, 40P01 deadlock_detected, class 08
//   (connection), 57P01-57P03 (server shutting down), 55P03 lock timeout,
//   a lost connection                                  -> Unavailable (the
//                                                         transaction is retried)
//   57014 query_canceled (statement_timeout)           -> DeadlineExceeded
//   53xxx insufficient resources                       -> ResourceExhausted
//   XX001, XX002 data/index corrupted                  -> DataLoss
//   42501, 25006 (no privilege, read-only transaction) -> PermissionDenied
//   28xxx authentication                               -> Unauthenticated
//   22xxx data exception (e.g. a NUL in text)          -> InvalidArgument
//   class 23 (constraints, incl. 23505 unique_violation) and the rest
//                                                      -> Internal
// A unique violation is Internal, not AlreadyExists, as SQLite's CONSTRAINT
// is: AlreadyExists makes the importer drop an upload as delivered, so the
// store claims keys with INSERT ... ON CONFLICT DO NOTHING and says
// AlreadyExists itself when the claim changed no row; a unique violation that
// still surfaces is a bug, and the upload must stay in the spool.
common::Status PgStatus(const PGresult* res, PGconn* conn, const std::string& context);

// The SQL of the seam with ?N placeholders as $N, outside string literals,
// quoted identifiers and comments. `used[n]` is set for every $n (n >= 1).
common::StatusOr<std::string> TranslatePlaceholders(const char* sql, std::vector<bool>* used);

// The connection string without its password, for messages and logs:
// "postgresql database 'inventory' on /run/postgresql:5432 as beacon".
std::string DescribeConninfo(const std::string& conninfo);

// How long a connection attempt and a statement may take.
inline constexpr int kConnectTimeoutSeconds = 10;
inline constexpr int kStatementTimeoutMs = 30000;

// One libpq connection as a sql::Conn. Statements are prepared once per
// connection (PQprepare, cached by SQL text: the store's SQL is a fixed set)
// and run with PQexecPrepared: text parameters, blobs as binary ones, text
// results. A connection found broken is reset (and its cache dropped) at the
// next Prepare or Begin, so a server restart costs one Unavailable.
class PgConn final : public sql::Conn {
 public:
  ~PgConn() override;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Connects with connect_timeout (unless the string sets its own) and sets
  // statement_timeout; a read-only connection also refuses writes
  // (default_transaction_read_only). `name` starts error messages.
  static common::StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& conninfo,
                                                           const std::string& name,
                                                           bool read_only);

  common::StatusOr<std::unique_ptr<sql::StmtImpl>> Prepare(const char* sql,
                                                           const std::string& what) override;
  common::Status Exec(const char* sql, const std::string& what) override;
  common::Status Begin(sql::TxnKind kind) override;
  common::Status Commit() override;
  void Rollback() override;
  // Serializable transactions lose races by design (40001) and deadlocks
  // are broken by the server (40P01): both are retried from the start.
  int WriteAttempts() const override { return 12; }
  bool RetryableFailure() const override { return retryable_failure_; }
  bool ConnectionLost() const override { return PQstatus(conn_) != CONNECTION_OK; }

  // PgStatus, remembering a retryable failure for RetryableFailure().
  common::Status Fail(const PGresult* res, const std::string& context);
  PGconn* raw() const { return conn_; }

 private:
  PgConn(PGconn* conn, std::string name, bool read_only)
      : conn_(conn), name_(std::move(name)), read_only_(read_only) {}
  common::Status Setup();
  common::Status EnsureConnected();

  struct Prepared {
    std::string name;
    int params = 0;
  };
  PGconn* conn_;
  const std::string name_;
  const bool read_only_;
  std::unordered_map<std::string, Prepared> prepared_;  // by the seam's SQL text
  uint64_t next_statement_ = 0;
  bool retryable_failure_ = false;  // since the last Begin
};

}  // namespace inventory::pg
