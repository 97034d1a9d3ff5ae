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

namespace testing_support {

class PgServer {
 public:
  // initdb + pg_ctl start -w (which returns once the server accepts
  // connections). FailedPrecondition when PostgreSQL is not installed.
  static common::StatusOr<std::unique_ptr<PgServer>> Start();
  ~PgServer();  // pg_ctl stop -m fast -w, then the folder is removed
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // A libpq connection string for database `dbname` on this server.
  std::string Conninfo(const std::string& dbname) const;
  // Creates an empty database (AlreadyExists if it is there).
  common::Status CreateDatabase(const std::string& dbname);
  // Runs SQL on database `dbname`; the first column of the first row as
  // text ("" for none or NULL).
  common::StatusOr<std::string> Query(const std::string& dbname, const std::string& sql);

 private:
  explicit PgServer(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::string user_;  // the OS user running the server, "" for ourselves
  bool running_ = false;
  std::mutex mu_;
};

// One server per test process, started on first use and stopped at exit, so
// a test binary pays for initdb once. REQUIREs that it started.
PgServer& SharedPgServer();

}  // namespace testing_support
