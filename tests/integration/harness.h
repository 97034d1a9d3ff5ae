// Integration harness: real executables on loopback ports, real certificates,
// real files. An Estate is a temp folder with a central and a DMZ relay
// beacon configured to talk to each other.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "inventory/store.h"

namespace harness {

std::string MakeTempDir(const std::string& prefix);
// A port nothing listens on right now (bind to 0, read it, close).
int FreePort();
void WriteText(const std::string& path, const std::string& text);
std::string ReadText(const std::string& path);
size_t CountFiles(const std::string& dir);
// Keys in `extra_config` ("key = value" lines) replace the ones in the
// config file at `path`; the others are appended.
void MergeConfig(const std::string& path, const std::string& extra_config);

// A child process whose stdout and stderr go to a log file.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  // With `env` ("NAME=value") added to (or replacing in) this process's environment.
  Process(const std::vector<std::string>& argv, const std::string& log_path, const std::vector<std::string>& env);
  ~Process();
  // Sends `sig` (SIGHUP for a reload).
  void Signal(int sig);
  // SIGTERM, then SIGKILL after 10 s; returns the exit status.
  int Stop();
  // SIGKILL at once (a crash: nothing is flushed or closed cleanly), then
  // reaps the process.
  void Kill();
  bool Running();
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
CommandResult Run(const std::vector<std::string>& argv);

// Polls `pred` every 100 ms until it is true or `timeout` passes.
bool WaitUntil(const std::function<bool()>& pred, std::chrono::seconds timeout);

// True once a TLS GET /v1/ping on the port answers 200.
bool WaitForBeacon(int port, std::chrono::seconds timeout = std::chrono::seconds(15));

class Estate {
 public:
  Estate();
  // An estate whose central keeps its store in PostgreSQL (store =
  // postgresql, store_conninfo = `store_conninfo`); beaconctl is given the
  // same connection string. The database must exist.
  explicit Estate(const std::string& store_conninfo);
  ~Estate();
  void StartCentral();
  // As StartCentral, with extra "key = value" lines for the central's config
  // (they replace the defaults, as StartDmz's do).
  void StartCentral(const std::string& extra_config);
  void StopCentral();
  // Extra "key = value" lines for the DMZ beacon's config.
  void StartDmz(const std::string& extra_config = "");
  void StopDmz();

  // Writes a client config for `server_port` and returns its path. The
  // client enrolls with the estate's secret on its first run.
  std::string ClientConfig(int server_port, const std::string& ca_file, const std::string& name = "client");

  // Certificates from the estate CA (beaconctl beacon issue / device issue),
  // written to pki/: NAME.pem and NAME.key.
  struct Cert {
    std::string cert;
    std::string key;
  };
  Cert IssueBeacon(const std::string& name, const std::string& host = "127.0.0.1");
  // The device's certificate, issued on the first call.
  Cert IssueDevice(const std::string& device_id);
  // Runs `beaconctl --data-dir CENTRAL ARGS...`, which must succeed.
  CommandResult Ctl(const std::vector<std::string>& args);
  CommandResult Client(const std::string& config, const std::vector<std::string>& args);
  // The device id the client with this state folder name made.
  std::string DeviceOf(const std::string& client) const;
  // Runs `beaconctl --data-dir CENTRAL policy ARGS...`, which must succeed.
  CommandResult PolicyCommand(const std::vector<std::string>& args);
  // Opens the central's store read-only (fails the test if absent).
  std::unique_ptr<inventory::Store> Store();
  // beaconctl's global options naming the central: --data-dir, and
  // --store-conninfo for a PostgreSQL store.
  std::vector<std::string> CtlArgs() const;

  std::string dir;
  std::string certs;          // TEST_CERT_DIR: the policy signing key, and certificates of other CAs
  std::string pki;            // the estate's certificates (dir/pki); pki/ca.pem is the trust bundle
  std::string enroll_secret;  // unlimited uses
  std::string store_conninfo;  // empty: the central's store is SQLite
  int central_port;
  int dmz_port;
  std::unique_ptr<Process> central;
  std::unique_ptr<Process> dmz;
};

// (device id, upload id): how an upload is known at every hop and in the store.
using UploadKey = std::pair<std::string, std::string>;

struct StoredUpload {
  int rows = 0;
  std::string sha256;
};

// Every upload in the central's store, read with SQLite directly: rows per
// (device_id, upload_id) and the digest recorded. Written to hold whether
// the table's key is upload_id alone or (device_id, upload_id). nullopt while
// the store cannot be read (not created yet, or busy).
std::optional<std::map<UploadKey, StoredUpload>> StoredUploads(const Estate& e);
int RowsFor(const std::map<UploadKey, StoredUpload>& stored, const UploadKey& key);

}  // namespace harness
