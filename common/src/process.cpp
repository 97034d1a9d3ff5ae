#include "common/process.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include "common/log.h"

namespace common {

namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a connection is an error to handle, not a reason to die.
  ::signal(SIGPIPE, SIG_IGN);
}

void StopOnTerminationSignals(std::function<void()> on_signal) {
  BlockTerminationSignals();
  sigset_t set = TerminationSignals();
  std::thread([set, on_signal = std::move(on_signal)] {
    int sig = 0;
    sigwait(&set, &sig);
    LogInfo("signal " + std::to_string(sig) + ": shutting down");
    on_signal();
  }).detach();
}

Status SetLogLevelFrom(const std::string& value) {
  LogLevel level;
  if (!ParseLogLevel(value, &level)) {
    return InvalidArgument("log_level must be debug, info, warn or error, not '" + value + "'");
  }
  SetLogLevel(level);
  return Status::Ok();
}

}  // namespace common
