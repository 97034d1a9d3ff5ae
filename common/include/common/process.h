// Process plumbing shared by the executables.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace common {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every
// thread it creates afterwards) and ignores SIGPIPE. Call it first in main(),
// before anything starts a thread: a thread started earlier would take the
// signal and die of it.
void BlockTerminationSignals();

// BlockTerminationSignals(), then starts a detached thread that waits for the
// signals with sigwait(). SIGINT or SIGTERM: tells the service manager
// STOPPING=1 (common/service.h), calls `on_stop` once, and the thread ends
// (a later signal stays blocked and pending). SIGHUP: calls `on_reload`, on
// this thread, each time; with no `on_reload` it is logged and ignored. No
// signal handler ever runs in the middle of library code.
void StopOnTerminationSignals(std::function<void()> on_stop, std::function<void()> on_reload = nullptr);

// Sets the log level from a configuration value; InvalidArgument naming the
// valid values otherwise.
Status SetLogLevelFrom(const std::string& value);

}  // namespace common
