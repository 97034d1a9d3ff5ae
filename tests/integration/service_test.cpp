// The executables under a service manager (docs/service.md): the real
// `beacon` and `beacon-client run`, started with NOTIFY_SOCKET naming a
// socket this test owns and WATCHDOG_USEC set, as systemd does for a unit
// with Type=notify and WatchdogSec.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "integration/harness.h"
#include "support/notify_socket.h"
#include "support/wait.h"

using harness::Estate;
using harness::Process;
using testing_support::NotifySocket;

namespace {

constexpr auto kDeadline = std::chrono::seconds(30);
// The watchdog systemd would set for WatchdogSec=4s: keep-alives every 2 s.
const std::string kWatchdog = "WATCHDOG_USEC=4000000";

// True if a TCP connection to 127.0.0.1:port is accepted.
bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The reload protocol around one SIGHUP: RELOADING=1, then READY=1; the
// index of that READY=1.
int ReloadAndWait(Process& p, NotifySocket& notify) {
  const size_t from = notify.messages().size();
  p.Signal(SIGHUP);
  const int reloading = notify.WaitFor("RELOADING=1", from, kDeadline);
  REQUIRE(reloading >= 0);
  const int ready = notify.WaitFor("READY=1", static_cast<size_t>(reloading) + 1, kDeadline);
  REQUIRE(ready > reloading);
  return ready;
}

// What both executables must do, from start to stop. `config` is the file
// the process reads; `settled` tells that it is up and running.
void CheckServiceCycle(Process& p, NotifySocket& notify, const std::string& config,
                       const std::function<bool()>& settled) {
  const int ready = notify.WaitFor("READY=1", 0, kDeadline);
  REQUIRE(ready >= 0);
  CHECK(notify.messages()[static_cast<size_t>(ready)].probe);  // what held when READY=1 arrived
  REQUIRE(settled());

  // Keep-alives keep coming.
  REQUIRE(notify.WaitFor("WATCHDOG=1", static_cast<size_t>(ready) + 1, kDeadline) >= 0);
  const size_t pings = notify.Count("WATCHDOG=1");
  REQUIRE(testing_support::WaitUntil([&] { return notify.Count("WATCHDOG=1") >= pings + 2; }, kDeadline));

  // A reload takes the new log level: at warn, the INFO line of the next
  // SIGHUP ("signal 1: reloading") is no longer written.
  const std::string original = harness::ReadText(config);
  harness::MergeConfig(config, "log_level = warn\n");
  ReloadAndWait(p, notify);
  REQUIRE(testing_support::WaitUntil(
      [&] { return harness::ReadText(p.log_path()).find("log_level warn") != std::string::npos; }, kDeadline));
  const size_t info_lines = Occurrences(harness::ReadText(p.log_path()), "signal 1: reloading");
  CHECK(info_lines == 1);

  // A broken file on reload: refused, the process keeps running with the
  // configuration it had (still warn: the INFO line stays unwritten).
  harness::WriteText(config, original + "log_level = loud\n");
  ReloadAndWait(p, notify);
  REQUIRE(testing_support::WaitUntil(
      [&] { return harness::ReadText(p.log_path()).find("reload refused") != std::string::npos; }, kDeadline));
  CHECK(p.Running());
  CHECK(Occurrences(harness::ReadText(p.log_path()), "signal 1: reloading") == info_lines);
  CHECK(settled());
  const size_t after = notify.messages().size();
  CHECK(testing_support::WaitUntil([&] { return notify.messages().size() > after; }, kDeadline));  // pings go on

  // SIGTERM: STOPPING=1, then a clean exit.
  const size_t before_stop = notify.messages().size();
  CHECK(p.Stop() == 0);
  CHECK(notify.WaitFor("STOPPING=1", before_stop, kDeadline) >= 0);
}

}  // namespace

TEST_CASE("service: the beacon is ready once it accepts, pings its watchdog, reloads on SIGHUP and says STOPPING") {
  Estate e;
  const std::string config = e.dir + "/central.conf";
  NotifySocket notify(e.dir + "/notify.sock", [&] { return Accepts(e.central_port); });
  Process p({BEACON_BIN, "--config", config}, e.dir + "/central.log", {notify.env(), kWatchdog});
  CheckServiceCycle(p, notify, config, [&] { return harness::WaitForBeacon(e.central_port); });
}

TEST_CASE("service: beacon-client run is ready after start-up, pings its watchdog, reloads on SIGHUP and says STOPPING") {
  Estate e;
  // Its beacon is not started: the client waits to enroll, with backoff,
  // which is when the watchdog matters most.
  const std::string config = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");
  const std::string state = e.dir + "/client";
  NotifySocket notify(e.dir + "/notify.sock", [&] { return std::filesystem::exists(state + "/device-id"); });
  Process p({CLIENT_BIN, "--config", config, "run"}, e.dir + "/client.log", {notify.env(), kWatchdog});
  CheckServiceCycle(p, notify, config, [&] { return p.Running(); });
}
