// sd_notify() through libsystemd (libsystemd-dev) rather than a hand-written
// datagram: the library handles abstract socket names, credentials and the
// WATCHDOG_PID check, and it is on every Debian machine that runs systemd.
#include "common/service.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <cstdint>

namespace common::service {

namespace {

// Sends `message` if NOTIFY_SOCKET is set (sd_notify returns 0 otherwise).
// A failure is dropped: the service manager going away must not stop us.
void Notify(const std::string& message) { (void)sd_notify(0, message.c_str()); }

// STATUS= is one line; a newline would start a new (unknown) assignment.
std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

void Ready(const std::string& status) {
  Notify(status.empty() ? "READY=1" : "READY=1\nSTATUS=" + OneLine(status));
}

void Reloading() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  Notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void Stopping() { Notify("STOPPING=1"); }

void Status(const std::string& text) { Notify("STATUS=" + OneLine(text)); }

std::chrono::milliseconds KeepAliveInterval() {
  static const std::chrono::milliseconds interval = [] {
    uint64_t usec = 0;
    // > 0: a watchdog is on for this process; 0: none; < 0: a bad variable.
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(std::max<uint64_t>(usec / 2000u, 1));
  }();
  return interval;
}

void KeepAlive() {
  if (KeepAliveInterval().count() > 0) Notify("WATCHDOG=1");
}

}  // namespace common::service
