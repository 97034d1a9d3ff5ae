// The agent API handlers: what a beacon answers to devices and to the
// beacons below it (docs/protocol.md). Routes are registered on the server
// engine by Register(); each handler validates every header it uses and
// copies no request data into answers or log lines unvalidated.
#pragma once

#include <atomic>
#include <string>

#include "action_board.h"
#include "checkins.h"
#include "common/http_server.h"
#include "common/spool.h"
#include "policy/policy_set.h"
#include "policy_cache.h"
#include "inventory/store.h"
#include "settings.h"
#include "trust.h"

namespace beacon {

class AgentApi {
 public:
  // Either `policy`, `store` and `actions` (central) or `cache` (relay)
  // are set. All pointers outlive the AgentApi.
  AgentApi(const Settings* settings, common::Spool* spool, CheckinTracker* checkins,
           policy::PolicySource* policy, inventory::Store* store, PolicyCache* cache, TrustState* trust,
           ActionBoard* actions);

  // Adds the routes: ping, manifest, file, upload, trust, enrollment.
  void Register(common::HttpServer::Listener& server);

  struct DeviceContext;  // the validated device headers of a request

 private:
  void HandleManifest(const common::HttpRequest& req, common::HttpResponse& res);
  bool QuickManifest(const common::HttpRequest& req, common::HttpResponse& res);
  static void AnswerManifest(const common::HttpRequest& req, const std::string& xml, const std::string& etag,
                             common::HttpResponse& res);
  void HandleFile(const common::HttpRequest& req, common::HttpResponse& res);
  std::unique_ptr<common::BodySink> HandleUpload(const common::HttpRequest& req, common::HttpResponse& res);
  std::unique_ptr<common::BodySink> Receive(common::SpoolMeta meta, common::HttpResponse& res);
  std::unique_ptr<common::BodySink> HandleEnroll(const common::HttpRequest& req, common::HttpResponse& res);
  void HandleEnrollAnswer(const common::HttpRequest& req, common::HttpResponse& res);
  bool QuickTrust(const common::HttpRequest& req, common::HttpResponse& res);
  class UploadSink;
  void Checkin(const DeviceContext& ctx, const std::string& peer);
  void Refuse(common::HttpResponse& res, int status, const std::string& message) const;

  const Settings* settings_;
  common::Spool* spool_;
  CheckinTracker* checkins_;
  policy::PolicySource* policy_;
  inventory::Store* store_;
  PolicyCache* cache_;
  TrustState* trust_;
  ActionBoard* actions_;
  std::string retry_after_;
  std::atomic<int> uploads_in_flight_{0};
};

}  // namespace beacon
