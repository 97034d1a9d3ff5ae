// A real PostgreSQL 15 server for tests: initdb and pg_ctl from
// /usr/lib/postgresql/15/bin, in a folder of its own under /tmp, listening
// only on a Unix socket in that folder (listen_addresses=''), fsync on.
// Stopped and removed with its object. PostgreSQL refuses to run as root, so
// under uid 0 the server runs as the `postgres` system user (created by the
// postgresql package) through runuser, and the folder belongs to it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

struct pg_conn;  // libpq's PGconn, so that this header needs no libpq-fe.h

namespace testing_support {

class PgServer {
 public:
  // initdb + pg_ctl start -w (which returns once the server accepts
  // connections). FailedPrecondition when PostgreSQL is not installed.
  static common::StatusOr<std::unique_ptr<PgServer>> Start();
  ~PgServer();  // pg_ctl stop -m fast -w, then the folder is removed
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // pg_ctl stop -m immediate: every server process ends at once, as in a
  // crash or a power cut (no checkpoint, clients' connections just close);
  // the next Restart() runs crash recovery from the write-ahead log.
  common::Status Crash();
  // pg_ctl start -w after Crash(): returns once the server, recovered,
  // accepts connections again.
  common::Status Restart();

  // A libpq connection string for database `dbname` on this server.
  std::string Conninfo(const std::string& dbname) const;
  // Creates an empty database (AlreadyExists if it is there).
  common::Status CreateDatabase(const std::string& dbname);
  // Runs SQL on database `dbname`; the first column of the first row as
  // text ("" for none or NULL).
  common::StatusOr<std::string> Query(const std::string& dbname, const std::string& sql);

 private:
  explicit PgServer(std::string dir) : dir_(std::move(dir)) {}
  common::Status StartServer();  // pg_ctl start -w with our options
  std::string dir_;
  std::string user_;  // the OS user running the server, "" for ourselves
  bool running_ = false;
  std::mutex mu_;
};

// An administrator's session on one database (psql, in effect): runs SQL on
// one connection, so it can hold a lock across statements; reads
// pg_stat_activity and terminates other sessions' backends. Errors come back
// as Status (no REQUIRE), so any one thread may use it.
class PgSession {
 public:
  explicit PgSession(const std::string& conninfo);
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // The first column of the first row as text ("" for none or NULL).
  common::StatusOr<std::string> Run(const std::string& sql);
  // A statement of a backend whose application_name is `application`,
  // waiting for a lock: the backend's process id, and when its transaction
  // and the statement began (a transaction run again on the same connection
  // starts later; so does each statement). pid 0: none waits (or that could
  // not be read).
  struct LockWait {
    int pid = 0;
    std::string transaction_start;
    std::string statement_start;
  };
  LockWait LockWaiter(const std::string& application);
  // Terminates the backend `pid`; false if it was gone.
  common::StatusOr<bool> Terminate(int pid);
  // Terminates (pg_terminate_backend) the backends whose application_name
  // matches `pattern` (SQL LIKE, no quotes in it) and which are inside a
  // statement or a transaction, leaving idle ones; how many it ended.
  common::StatusOr<int> TerminateBusy(const std::string& pattern);
  // The same for every backend of `pattern`, idle ones too (as a restart).
  common::StatusOr<int> TerminateAll(const std::string& pattern);

 private:
  common::StatusOr<int> Terminate(const std::string& pattern, bool busy_only);
  pg_conn* conn_;
};

// One server per test process, started on first use and stopped at exit, so
// a test binary pays for initdb once. REQUIREs that it started.
PgServer& SharedPgServer();

}  // namespace testing_support
