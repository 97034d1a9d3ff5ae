#include "support/pg_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace testing_support {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin";
constexpr char kPort[] = "5432";  // only names the socket file in our own folder

// Runs argv (as `user` through runuser when not empty); its exit status, -1
// when it could not start. Output goes to the test's own stdout/stderr.
int Run(const std::string& user, std::vector<std::string> argv) {
  if (!user.empty()) argv.insert(argv.begin(), {"runuser", "-u", user, "--"});
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

common::StatusOr<std::unique_ptr<PgServer>> PgServer::Start() {
  if (::access((std::string(kBin) + "/initdb").c_str(), X_OK) != 0) {
    return common::FailedPrecondition(std::string(kBin) +
                                      "/initdb is missing: install the postgresql package");
  }
  std::string tmpl = "/tmp/beacon-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return common::Internal("mkdtemp failed");
  std::unique_ptr<PgServer> server(new PgServer(tmpl));
  if (::geteuid() == 0) {
    const struct passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return common::FailedPrecondition("running as root and no user 'postgres'");
    if (::chown(tmpl.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return common::Internal("chown " + tmpl + " failed");
    }
    server->user_ = "postgres";
  }
  const std::string data = tmpl + "/data";
  // --no-sync only skips initdb's final flush of the template files; the
  // server itself runs with fsync on.
  if (Run(server->user_, {std::string(kBin) + "/initdb", "-D", data, "-U", "postgres", "-A",
                          "trust", "-E", "UTF8", "--locale=C", "--no-sync"}) != 0) {
    return common::Internal("initdb failed in " + tmpl);
  }
  RETURN_IF_ERROR(server->StartServer());
  return server;
}

common::Status PgServer::StartServer() {
  const std::string options = "-c listen_addresses='' -c unix_socket_directories='" + dir_ +
                              "' -c fsync=on -c max_connections=200 -p " + kPort;
  if (Run(user_, {std::string(kBin) + "/pg_ctl", "start", "-w", "-t", "60", "-D", dir_ + "/data",
                  "-l", dir_ + "/server.log", "-o", options}) != 0) {
    return common::Internal("pg_ctl start failed; see " + dir_ + "/server.log");
  }
  running_ = true;
  return common::Status::Ok();
}

common::Status PgServer::Crash() {
  if (Run(user_, {std::string(kBin) + "/pg_ctl", "stop", "-w", "-m", "immediate", "-D",
                  dir_ + "/data"}) != 0) {
    return common::Internal("pg_ctl stop -m immediate failed; see " + dir_ + "/server.log");
  }
  running_ = false;
  return common::Status::Ok();
}

common::Status PgServer::Restart() { return StartServer(); }

PgServer::~PgServer() {
  if (running_) {
    (void)Run(user_,
              {std::string(kBin) + "/pg_ctl", "stop", "-w", "-m", "fast", "-D", dir_ + "/data"});
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PgServer::Conninfo(const std::string& dbname) const {
  return "host=" + dir_ + " port=" + kPort + " user=postgres dbname=" + dbname;
}

common::Status PgServer::CreateDatabase(const std::string& dbname) {
  common::StatusOr<std::string> r = Query("postgres", "CREATE DATABASE \"" + dbname + "\"");
  if (!r.ok() && r.status().message().find("already exists") != std::string::npos) {
    return common::AlreadyExists(r.status().message());
  }
  return r.status();
}

common::StatusOr<std::string> PgServer::Query(const std::string& dbname, const std::string& sql) {
  return PgSession(Conninfo(dbname)).Run(sql);
}

PgSession::PgSession(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {}

PgSession::~PgSession() { PQfinish(conn_); }

common::StatusOr<std::string> PgSession::Run(const std::string& sql) {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return common::Unavailable(std::string("session: ") + PQerrorMessage(conn_));
  }
  PGresult* res = PQexec(conn_, sql.c_str());
  const ExecStatusType st = PQresultStatus(res);
  std::string out;
  common::Status status;
  if (st == PGRES_TUPLES_OK) {
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) out = PQgetvalue(res, 0, 0);
  } else if (st != PGRES_COMMAND_OK) {
    status = common::Internal(sql + ": " + PQresultErrorMessage(res));
  }
  PQclear(res);
  if (!status.ok()) return status;
  return out;
}

PgSession::LockWait PgSession::LockWaiter(const std::string& application) {
  LockWait wait;
  common::StatusOr<std::string> row =
      Run("SELECT pid || ' ' || extract(epoch FROM xact_start) || ' ' || "
          "extract(epoch FROM query_start) FROM pg_stat_activity WHERE application_name = '" +
          application + "' AND wait_event_type = 'Lock' LIMIT 1");
  if (!row.ok() || row->empty()) return wait;
  std::istringstream in(*row);
  in >> wait.pid >> wait.transaction_start >> wait.statement_start;
  return wait;
}

common::StatusOr<bool> PgSession::Terminate(int pid) {
  common::StatusOr<std::string> ended =
      Run("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  if (!ended.ok()) return ended.status();
  return *ended == "t";
}

common::StatusOr<int> PgSession::TerminateBusy(const std::string& pattern) {
  return Terminate(pattern, true);
}

common::StatusOr<int> PgSession::TerminateAll(const std::string& pattern) {
  return Terminate(pattern, false);
}

common::StatusOr<int> PgSession::Terminate(const std::string& pattern, bool busy_only) {
  // The backends are listed (materialized) first, so that
  // pg_terminate_backend() runs for those only, whatever order the planner
  // would evaluate the conditions in.
  const std::string busy =
      busy_only ? " AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
                : "";
  common::StatusOr<std::string> n =
      Run("WITH chosen AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE application_name "
          "LIKE '" +
          pattern + "'" + busy + ") SELECT COUNT(*) FROM chosen WHERE pg_terminate_backend(pid)");
  if (!n.ok()) return n.status();
  return std::stoi(*n);
}

PgServer& SharedPgServer() {
  static std::unique_ptr<PgServer> server = [] {
    common::StatusOr<std::unique_ptr<PgServer>> s = PgServer::Start();
    if (!s.ok()) {
      std::fprintf(stderr, "cannot start the test PostgreSQL server: %s\n",
                   s.status().ToString().c_str());
      std::abort();
    }
    return std::move(s).value();
  }();
  return *server;
}

}  // namespace testing_support
