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

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};

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
  const std::string options = "-c listen_addresses='' -c unix_socket_directories='" + tmpl +
                              "' -c fsync=on -c max_connections=200 -p " + kPort;
  if (Run(server->user_, {std::string(kBin) + "/pg_ctl", "start", "-w", "-t", "60", "-D", data,
                          "-l", tmpl + "/server.log", "-o", options}) != 0) {
    return common::Internal("pg_ctl start failed; see " + tmpl + "/server.log");
  }
  server->running_ = true;
  return server;
}

PgServer::~PgServer() {
  if (running_) {
    (void)Run(user_, {std::string(kBin) + "/pg_ctl", "stop", "-w", "-m", "fast", "-D",
                      dir_ + "/data"});
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
  std::unique_ptr<PGconn, ConnCloser> conn(PQconnectdb(Conninfo(dbname).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return common::Unavailable(std::string("connect: ") + PQerrorMessage(conn.get()));
  }
  PGresult* res = PQexec(conn.get(), sql.c_str());
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
