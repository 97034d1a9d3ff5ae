#include "common/process.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include "common/log.h"
#include "common/service.h"

namespace common {

namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a connection is an error to handle, not a reason to die.
  ::signal(SIGPIPE, SIG_IGN);
}

void StopOnTerminationSignals(std::function<void()> on_stop, std::function<void()> on_reload) {
  BlockTerminationSignals();
  sigset_t set = TerminationSignals();
  std::thread([set, on_stop = std::move(on_stop), on_reload = std::move(on_reload)] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        if (on_reload) {
          LogInfo("signal " + std::to_string(sig) + ": reloading");
          on_reload();
        } else {
          LogInfo("signal " + std::to_string(sig) + ": nothing to reload");
        }
        continue;
      }
      LogInfo("signal " + std::to_string(sig) + ": shutting down");
      service::Stopping();
      on_stop();
      return;
    }
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
