// The process's side of the service manager's protocol (systemd's
// sd_notify(3): readiness, reloading, stopping, status text and the
// watchdog), for units with Type=notify (docs/service.md).
//
// This pair is the one place that speaks to systemd: common/src/service.cpp
// is the only file that includes a libsystemd header. Every call is a no-op
// when NOTIFY_SOCKET is unset (not started by systemd, or by a unit without
// Type=notify), and none ever fails its caller: a message that cannot be
// sent is dropped. Thread-safe.
#pragma once

#include <chrono>
#include <string>

namespace common::service {

// READY=1: start-up is complete (a beacon's listeners are bound and its spool
// scanned), or a reload has ended (successfully or not: the process serves
// either way). `status`, if not empty, goes along as STATUS=.
void Ready(const std::string& status = "");
// RELOADING=1 (with MONOTONIC_USEC, as later systemd versions want): a reload
// has begun; Ready() must follow when it ends.
void Reloading();
// STOPPING=1: shutdown has begun.
void Stopping();
// STATUS=`text`: one line for `systemctl status`.
void Status(const std::string& text);

// Half the watchdog timeout systemd gave this process (WATCHDOG_USEC, when
// WATCHDOG_PID is unset or names this process); zero when there is none.
// Read once, at the first call.
std::chrono::milliseconds KeepAliveInterval();
// WATCHDOG=1 when a watchdog is on. Call it only from a loop whose turning
// proves the process is doing its work, at least every KeepAliveInterval():
// a ping sent blindly would hide the hang the watchdog is there to catch.
void KeepAlive();

}  // namespace common::service
