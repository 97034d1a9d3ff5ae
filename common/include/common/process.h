// Process plumbing shared by the executables.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace common {

// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it
// creates afterwards) and ignores SIGPIPE. Call it first in main(), before
// anything starts a thread: a thread started earlier would take the signal
// and die of it.
void BlockTerminationSignals();

// BlockTerminationSignals(), then starts a detached thread that waits for
// either signal with sigwait() and calls `on_signal` once. No signal handler
// ever runs in the middle of library code.
void StopOnTerminationSignals(std::function<void()> on_signal);

// Sets the log level from a configuration value; InvalidArgument naming the
// valid values otherwise.
Status SetLogLevelFrom(const std::string& value);

}  // namespace common
