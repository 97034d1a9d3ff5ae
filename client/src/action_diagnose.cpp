// The diagnose action, apart from the other kinds: it is the one that needs
// diagnose.cpp (Diagnose, WriteBundle).
#include "actions.h"
#include "common/fs.h"
#include "common/uuid.h"
#include "diagnose.h"

namespace client {

common::StatusOr<std::string> RunDiagnoseAction(const ClientSettings& settings, const QueueUpload& queue) {
  common::Env* env = settings.env != nullptr ? settings.env : common::Env::Default();
  const DiagnoseReport report = Diagnose(settings, DiagnoseOptions{});
  const std::string failure = report.FirstFailure();
  const std::string path = settings.state_dir + "/diagnose-" + common::NewUuid() + ".tar.gz.tmp";
  common::Status written = WriteBundle(report, settings, "", path);
  auto bundle = written.ok() ? common::ReadFile(path, 64u << 20, env) : common::StatusOr<std::string>(written);
  (void)env->Remove(path);  // absent when WriteBundle failed early
  if (!bundle.ok()) return bundle.status().WithContext("write the diagnostic bundle");
  const std::string id = common::NewUuid();
  RETURN_IF_ERROR(queue("logs", id, *bundle).WithContext("queue the diagnostic bundle"));
  return "diagnostics: " + (failure.empty() ? std::string("all passed") : failure) + "; bundle uploaded as logs " + id;
}

}  // namespace client
