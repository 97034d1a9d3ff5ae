// beacon's command line, parsed with CLI11 (libcli11-dev), and the process
// around a Beacon: signals (stop on SIGINT/SIGTERM, reload on SIGHUP) and
// the service manager's notifications (docs/service.md).
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "beacon/beacon.h"
#include "common/log.h"
#include "common/process.h"
#include "common/service.h"
#include "diagnose.h"

namespace beacon {

namespace {

// Reads the configuration file again, as at start-up (--data-dir still
// overriding data_dir), and gives it to the beacon. Any error keeps the
// running configuration.
common::Status ReloadFrom(Beacon& beacon, const std::string& config_path, const std::string& data_dir) {
  ASSIGN_OR_RETURN(common::Config config, common::LoadConfig(config_path, &ConfigKeys()));
  if (!data_dir.empty()) RETURN_IF_ERROR(config.Set("data_dir", data_dir, "--data-dir"));
  return beacon.Reload(config);
}

}  // namespace

int BeaconMain(int argc, char** argv) {
  common::BlockTerminationSignals();  // before the server engine starts its threads
  common::SetLogTag("beacon");
  common::UseJournalIfConnected();
  std::string config_path = "/etc/beacon/beacon.conf", data_dir;
  CLI::App app(
      "Serves the agent API over HTTPS. With 'upstream' set it relays uploads and policy;\n"
      "with 'store = sqlite' it is the central and imports uploads into the store.",
      "beacon");
  app.add_option("--config", config_path, "configuration file")->capture_default_str();
  app.add_option("--data-dir", data_dir, "overrides the configuration's data_dir");
  app.set_version_flag("--version", std::string("beacon ") + BEACON_VERSION);
  app.footer("Configuration keys:\n" + common::ConfigHelp(ConfigKeys()));
  bool json = false;
  CLI::App* diagnose = app.add_subcommand(
      "diagnose", "check the way to the upstream step by step (docs/diagnose.md); exit 1 if a step failed");
  diagnose->add_flag("--json", json, "print the report as JSON");
  diagnose->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; a usage error with 2.
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (diagnose->parsed()) return DiagnoseMain(config_path, data_dir, json);
  auto config = common::LoadConfig(config_path, &ConfigKeys());
  if (!config.ok()) {
    std::cerr << "beacon: " << config.status().message() << "\n";
    return 2;
  }
  if (!data_dir.empty()) (void)config->Set("data_dir", data_dir, "--data-dir");

  auto beacon = Beacon::Create(*config);
  if (!beacon.ok()) {
    common::LogError(beacon.status().ToString());
    return 1;
  }
  // The signal thread may call Stop() or Reload() at any moment until the
  // process ends, so the Beacon is never destroyed: it is released, and the
  // OS reclaims it.
  Beacon* b = beacon->release();
  common::StopOnTerminationSignals([b] { b->Stop(); },
                                   [b, config_path, data_dir] {
                                     common::service::Reloading();
                                     common::Status st = ReloadFrom(*b, config_path, data_dir);
                                     if (!st.ok()) {
                                       common::LogError("reload refused, the running configuration stays: " +
                                                        st.ToString());
                                     }
                                     common::service::Ready(st.ok() ? "reloaded" : "reload refused: " + st.message());
                                   });
  b->Run();
  return 0;
}

}  // namespace beacon
