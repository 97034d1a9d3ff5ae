// beacon-client's command line, parsed with CLI11 (libcli11-dev): the
// commands, the global options (before or after the command) and --help,
// which ends with every configuration key of ConfigKeys().
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>

#include "bootstrap.h"
#include "client/client.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/process.h"
#include "common/service.h"
#include "common/time.h"
#include "diagnose.h"

namespace client {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr char kDefaultConfig[] = "/etc/beacon-client/client.conf";

// What the command line asked for.
struct Command {
  std::string config_path = kDefaultConfig;
  std::string data_dir;  // overrides state_dir when not empty
  CLI::App* run = nullptr;
  CLI::App* inventory = nullptr;
  CLI::App* status = nullptr;
  CLI::App* enroll = nullptr;
  CLI::App* diagnose = nullptr;
  std::string secret;  // enroll --secret; overrides enroll_secret
  // enroll's set-up options (bootstrap.h): with --server, the configuration
  // is written first and the service started after.
  std::string enroll_server;
  std::string enroll_ca;
  std::string enroll_policy_key;
  // diagnose's options
  bool json = false;
  std::string server;
  std::string bundle;
  bool upload = false;
  bool no_upload_test = false;
  bool once = false;
  bool now = false;
};

// Declares the command line on `app`; parsing fills `c`.
void Declare(CLI::App& app, Command& c) {
  app.description(
      "The endpoint client: checks its policy, collects this machine's inventory and uploads it "
      "through a durable outbox.");
  app.set_help_flag("-h,--help", "show this help and exit");
  app.set_version_flag("--version", std::string("beacon-client ") + BEACON_VERSION,
                       "show the version and exit");
  app.add_option("--config", c.config_path, "configuration file")
      ->type_name("FILE")
      ->capture_default_str()
      ->take_last();
  app.add_option("--data-dir,--state-dir", c.data_dir, "overrides the configuration's state_dir")
      ->type_name("DIR")
      ->take_last();
  app.require_subcommand(1);

  c.run = app.add_subcommand(
      "run", "check policy, collect and upload on schedule (--once: one cycle, then exit)");
  c.run->add_flag("--once", c.once, "one cycle, then exit (1 if any step failed)");
  c.inventory =
      app.add_subcommand("inventory", "collect the inventory now and upload it (needs --now)");
  c.inventory->add_flag("--now", c.now, "collect and upload now")->required();
  c.status = app.add_subcommand("status", "print the device id, certificate, applied policy and outbox");
  c.enroll = app.add_subcommand(
      "enroll", "enroll this device now (waits up to enroll_wait) and print its certificate");
  c.enroll->add_option("--secret", c.secret, "enrollment secret; overrides the configuration's enroll_secret")
      ->type_name("S");
  CLI::Option* server = c.enroll->add_option(
      "--server", c.enroll_server,
      "set up first: write this beacon (https://host:port) into the configuration, with --ca; then "
      "enroll and, as root under systemd, enable and start beacon-client.service");
  server->type_name("URL");
  CLI::Option* ca = c.enroll->add_option("--ca", c.enroll_ca, "the estate CA bundle (PEM), copied beside the configuration as ca.pem")
      ->type_name("FILE");
  server->needs(ca);
  ca->needs(server);
  c.enroll->add_option("--policy-key", c.enroll_policy_key,
                       "the estate's policy public key (PEM Ed25519), copied beside the configuration as policy.pub; "
                       "default: keep the configured policy_public_key")
      ->type_name("FILE")
      ->needs(server);
  c.diagnose = app.add_subcommand(
      "diagnose",
      "check the path to the beacon step by step (configuration, dns, tcp, proxy, tls, http, identity, "
      "policy, upload), each with a code from docs/diagnose.md; exit 1 if a step failed");
  c.diagnose->add_flag("--json", c.json, "print the report as JSON");
  c.diagnose->add_option("--server", c.server, "diagnose this beacon instead of the one in use")->type_name("URL");
  c.diagnose->add_option("--bundle", c.bundle, "also write a troubleshooting bundle (tar.gz, no key, secrets redacted)")
      ->type_name("FILE");
  c.diagnose->add_flag("--upload", c.upload, "also put the bundle in the outbox as a logs upload and deliver it");
  c.diagnose->add_flag("--no-upload-test", c.no_upload_test, "skip the upload round trip step");
  // The global options may follow the command, as in `run --config FILE`.
  for (CLI::App* sub : {c.run, c.inventory, c.status, c.enroll, c.diagnose}) sub->fallthrough();

  app.footer("Configuration keys (in the --config file):\n" + common::ConfigHelp(ConfigKeys()));
}

int Fail(int code, const std::string& message) {
  std::cerr << "beacon-client: " << message << "\n";
  return code;
}

// `diagnose`: works with a configuration that does not validate (the
// report says why) and without the state lock, so it can run beside the
// daemon; only --upload opens the client (and waits for the lock).
int Diagnose(const Command& cmd) {
  ::signal(SIGPIPE, SIG_IGN);  // a beacon closing mid-handshake is a finding, not the end
  auto config = common::LoadConfig(cmd.config_path, &ConfigKeys());
  std::string problem;
  ClientSettings settings;
  if (!config.ok()) {
    problem = config.status().message();
  } else {
    if (!cmd.data_dir.empty()) (void)config->Set("state_dir", cmd.data_dir, "--data-dir");
    auto s = ClientSettings::FromConfig(*config);
    if (s.ok()) {
      settings = *s;
    } else {
      problem = cmd.config_path + ": " + s.status().message();
    }
  }
  DiagnoseOptions options;
  options.server = cmd.server;
  options.upload = !cmd.no_upload_test;
  const DiagnoseReport report =
      problem.empty() ? client::Diagnose(settings, options) : DiagnoseBadConfiguration(cmd.server, problem);
  std::cout << (cmd.json ? report.ToJson() : report.ToText()) << std::flush;
  int rc = report.ok() ? kExitOk : kExitRuntime;
  if (cmd.bundle.empty() && !cmd.upload) return rc;
  std::string path = cmd.bundle;
  std::string tmp_dir;
  if (path.empty()) {
    char tmpl[] = "/tmp/beacon-diagnose-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Fail(kExitRuntime, "cannot make a temporary folder for the bundle");
    tmp_dir = tmpl;
    path = tmp_dir + "/bundle.tar.gz";
  }
  common::Status st = WriteBundle(report, settings, cmd.config_path, path);
  if (!st.ok()) return Fail(kExitRuntime, "bundle: " + st.ToString());
  if (!cmd.bundle.empty()) std::cerr << "beacon-client: bundle written to " << path << "\n";
  if (cmd.upload) {
    if (!problem.empty()) st = common::FailedPrecondition("the configuration is not usable");
    std::unique_ptr<Client> c;
    if (st.ok()) {
      auto created = Client::Create(settings);
      st = created.status();
      if (created.ok()) c = std::move(created).value();
    }
    auto gz = common::ReadFile(path, 64u << 20);
    if (st.ok()) st = gz.status();
    if (st.ok()) st = c->QueueLogBundle(*gz);
    if (st.ok()) {
      common::Status sent = c->Flush();
      std::cerr << "beacon-client: bundle queued as a logs upload; delivery: "
                << (sent.ok() ? "done" : sent.ToString() + " (it stays in the outbox)") << "\n";
    }
  }
  if (!tmp_dir.empty()) {
    ::unlink(path.c_str());
    ::rmdir(tmp_dir.c_str());
  }
  if (!st.ok()) return Fail(kExitRuntime, "upload of the bundle: " + st.ToString());
  return rc;
}

// SIGHUP in `run` (docs/service.md): reads the configuration file again and
// gives it to the client (its log_level); keys that changed otherwise are
// reported as needing a restart. A file that does not load or validate
// changes nothing. Tells the service manager RELOADING=1, then READY=1.
void Reload(const Command& cmd, const common::Config& running, Client& c) {
  common::service::Reloading();
  auto config = common::LoadConfig(cmd.config_path, &ConfigKeys());
  common::Status st = config.status();
  if (st.ok() && !cmd.data_dir.empty()) st = config->Set("state_dir", cmd.data_dir, "--data-dir");
  common::StatusOr<ClientSettings> settings =
      st.ok() ? ClientSettings::FromConfig(*config) : common::StatusOr<ClientSettings>(st);
  if (!settings.ok()) st = settings.status();
  // Said before the level changes, so that it is seen whatever the new level.
  if (st.ok()) common::LogInfo("reloading: log_level " + config->GetString("log_level"));
  if (st.ok()) st = c.Reconfigure(*settings);
  if (!st.ok()) {
    common::LogError("reload refused, the running configuration stays: " + st.ToString());
    common::service::Ready("reload refused: " + st.message());
    return;
  }
  std::string restart;
  for (const std::string& key : common::ChangedKeys(running, *config, ConfigKeys())) {
    if (key != "log_level") restart += (restart.empty() ? "" : ", ") + key;
  }
  if (!restart.empty()) common::LogWarn("reload: changed, not applied until a restart: " + restart);
  common::service::Ready("reloaded");
}

int Execute(const Command& cmd) {
  if (cmd.diagnose->parsed()) return Diagnose(cmd);
  const bool bootstrap = cmd.enroll->parsed() && !cmd.enroll_server.empty();
  if (bootstrap) {
    common::Status st = WriteBootstrapConfig({cmd.config_path, cmd.enroll_server, cmd.enroll_ca, cmd.enroll_policy_key});
    if (!st.ok()) return Fail(kExitUsage, st.ToString() + " (nothing was written)");
    std::cout << "configuration written to " << cmd.config_path << "\n";
  }
  auto config = common::LoadConfig(cmd.config_path, &ConfigKeys());
  if (!config.ok()) return Fail(kExitUsage, config.status().message());
  if (!cmd.data_dir.empty()) (void)config->Set("state_dir", cmd.data_dir, "--data-dir");
  if (!cmd.secret.empty()) {
    common::Status set = config->Set("enroll_secret", cmd.secret, "--secret");
    if (!set.ok()) return Fail(kExitUsage, set.message());
  }
  auto settings = ClientSettings::FromConfig(*config);
  if (!settings.ok()) return Fail(kExitUsage, cmd.config_path + ": " + settings.status().message());
  // One-shot commands keep the default signal behaviour (Ctrl-C ends them);
  // the daemon loop stops cleanly between steps.
  ::signal(SIGPIPE, SIG_IGN);
  auto client = Client::Create(*settings);
  if (!client.ok()) return Fail(kExitRuntime, client.status().ToString());
  Client& c = **client;
  if (cmd.status->parsed()) {
    std::cout << c.StatusReport();
    return kExitOk;
  }
  if (cmd.enroll->parsed()) {
    const bool already = c.Certificate().has_value();
    common::Status st = c.Enroll(settings->enroll_wait);
    if (!st.ok()) return Fail(kExitRuntime, st.ToString());
    const common::PeerIdentity cert = *c.Certificate();
    std::cout << "device " << c.device_id() << (already ? " is already enrolled" : " enrolled") << ": certificate serial "
              << cert.serial << ", expires " << common::FormatRfc3339(cert.not_after) << "\n";
    if (bootstrap) {
      // Root enrolled, the service's user must read what root wrote.
      st = HandStateToOwner(settings->state_dir);
      if (!st.ok()) return Fail(kExitRuntime, st.ToString());
      // Let go of the state folder first: the service's `run` takes its
      // lock, and `systemctl enable --now` waits for the service's READY=1
      // (Type=notify), which would otherwise wait for this process.
      client->reset();
      std::cout << StartService() << "\n";
    }
    return kExitOk;
  }
  if (cmd.inventory->parsed()) {
    common::Status st = c.Enroll(settings->enroll_wait);
    if (st.ok()) st = c.CollectFullInventory();
    if (st.ok()) st = c.Flush();
    if (!st.ok()) return Fail(kExitRuntime, st.ToString());
    std::cout << "inventory of device " << c.device_id() << " delivered\n";
    return kExitOk;
  }
  if (cmd.once) {
    common::Status st = c.RunOnce();
    std::cout << c.StatusReport();
    if (!st.ok()) return Fail(kExitRuntime, st.ToString());
    return kExitOk;
  }
  // Static: the signal thread may still use them while the process exits.
  static common::StopFlag stop;
  static std::atomic<bool> reload_asked{false};
  // SIGHUP only asks: the Client is used from the loop's thread alone, which
  // reloads between steps (at once if it sleeps).
  common::StopOnTerminationSignals([] { stop.Stop(); },
                                   [] {
                                     reload_asked = true;
                                     stop.Wake();
                                   });
  common::service::Ready("running; device " + c.device_id());
  c.RunLoop(stop, [&] {
    if (reload_asked.exchange(false)) Reload(cmd, *config, c);
  });
  return kExitOk;
}

}  // namespace

int ClientMain(int argc, char** argv) {
  common::SetLogTag("client");
  common::UseJournalIfConnected();
  CLI::App app;
  app.name("beacon-client");
  Command cmd;
  Declare(app, cmd);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    std::cout << "beacon-client " << BEACON_VERSION << "\n";
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::cerr << "beacon-client: " << e.what() << "\n\n" << app.help();
    return kExitUsage;
  }
  return Execute(cmd);
}

}  // namespace client
