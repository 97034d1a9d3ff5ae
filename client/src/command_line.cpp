// beacon-client's command line: the commands, the global options and
// --help, which ends with every configuration key of ConfigKeys().
#include <signal.h>

#include <iostream>
#include <string>

#include "client/client.h"
#include "common/log.h"
#include "common/process.h"

namespace client {

using common::Status;

namespace {

void Usage(std::ostream& out) {
  out << "usage: beacon-client [--config FILE] [--data-dir DIR] COMMAND\n\n"
         "commands:\n"
         "  run [--once]      check policy, collect and upload on schedule (--once: one cycle, then exit)\n"
         "  inventory --now   collect the inventory now and upload it\n"
         "  status            print the device id, applied policy and outbox\n\n"
         "The default config file is /etc/beacon-client/client.conf; --data-dir overrides\n"
         "its state_dir (--state-dir is accepted too).\n\n"
         "Configuration keys:\n"
      << common::ConfigHelp(ConfigKeys());
}

}  // namespace

int ClientMain(int argc, char** argv) {
  common::SetLogTag("client");
  std::string config_path = "/etc/beacon-client/client.conf", state_dir, command;
  bool once = false, now = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Usage(std::cout);
      return 0;
    } else if (a == "--version") {
      std::cout << "beacon-client " << BEACON_VERSION << "\n";
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if ((a == "--state-dir" || a == "--data-dir") && i + 1 < argc) {
      state_dir = argv[++i];
    } else if (a == "--once" && command == "run") {
      once = true;
    } else if (a == "--now" && command == "inventory") {
      now = true;
    } else if (command.empty() && (a == "run" || a == "inventory" || a == "status")) {
      command = a;
    } else {
      std::cerr << "beacon-client: unknown argument '" << a << "'\n";
      Usage(std::cerr);
      return 2;
    }
  }
  if (command.empty() || (command == "inventory" && !now)) {
    Usage(std::cerr);
    return 2;
  }
  auto config = common::LoadConfig(config_path, &ConfigKeys());
  if (!config.ok()) {
    std::cerr << "beacon-client: " << config.status().message() << "\n";
    return 2;
  }
  if (!state_dir.empty()) (void)config->Set("state_dir", state_dir, "--data-dir");
  auto settings = ClientSettings::FromConfig(*config);
  if (!settings.ok()) {
    std::cerr << "beacon-client: " << config_path << ": " << settings.status().message() << "\n";
    return 2;
  }
  // One-shot commands keep the default signal behaviour (Ctrl-C ends them);
  // the daemon loop stops cleanly between steps.
  ::signal(SIGPIPE, SIG_IGN);
  auto client = Client::Create(*settings);
  if (!client.ok()) {
    std::cerr << "beacon-client: " << client.status().ToString() << "\n";
    return 1;
  }
  Client& c = **client;
  if (command == "status") {
    std::cout << c.StatusReport();
    return 0;
  }
  if (command == "inventory") {
    Status st = c.CollectInventory();
    if (st.ok()) st = c.Flush();
    if (!st.ok()) {
      std::cerr << "beacon-client: " << st.ToString() << "\n";
      return 1;
    }
    std::cout << "inventory of device " << c.device_id() << " delivered\n";
    return 0;
  }
  if (once) {
    Status st = c.RunOnce();
    std::cout << c.StatusReport();
    if (!st.ok()) {
      std::cerr << "beacon-client: " << st.ToString() << "\n";
      return 1;
    }
    return 0;
  }
  // Static: the signal thread may still use it while the process exits.
  static common::StopFlag stop;
  common::StopOnTerminationSignals([] { stop.Stop(); });
  c.RunLoop(stop);
  return 0;
}

}  // namespace client
