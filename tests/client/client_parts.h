// The client's real parts (state file, applied policy, identity, beacon
// selector, outbox, uploads, health checks) in a temp state folder, talking
// to scripted beacons by URL instead of the network: what the health and
// action tests drive.
#pragma once

#include <catch2/catch.hpp>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "applied_policy.h"
#include "beacons.h"
#include "common/fs.h"
#include "common/http_client.h"
#include "common/protocol.h"
#include "common/sha256.h"
#include "common/spool.h"
#include "common/uuid.h"
#include "health_checks.h"
#include "identity.h"
#include "policy/signing.h"
#include "state_file.h"
#include "support/temp_dir.h"
#include "uploads.h"

namespace client_test {

inline int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// A beacon answering from its script, in order; with nothing scripted it
// cannot be reached. Every request's path is noted.
struct Beacon {
  struct Answer {
    int status = 200;
    std::string body;
    common::HeaderList headers;  // response headers, names lower-case
  };
  std::deque<Answer> script;
  std::deque<common::Status> failures;  // answered before the script, if any
  std::vector<std::string> paths;

  common::StatusOr<common::HttpResult> Answer_(const std::string& path) {
    paths.push_back(path);
    if (!failures.empty()) {
      common::Status st = failures.front();
      failures.pop_front();
      return st;
    }
    if (script.empty()) return common::Unavailable("connection refused");
    Answer a = script.front();
    script.pop_front();
    common::HttpResult r;
    r.status = a.status;
    r.body = a.body;
    for (const auto& [k, v] : a.headers) r.headers.emplace(k, v);
    return r;
  }
};

// The connection the selector holds: passes requests to a Beacon it does not own.
class Connection : public common::Transport {
 public:
  Connection(std::string url, Beacon* beacon) : url_(std::move(url)), beacon_(beacon) {}
  common::StatusOr<common::HttpResult> Get(const std::string& path, const common::HeaderList&, uint64_t) override {
    return beacon_->Answer_(path);
  }
  common::StatusOr<common::HttpResult> Put(const std::string& path, const common::HeaderList&, uint64_t size,
                                           const common::BodySource& source, const std::string&) override {
    auto body = source(0, size);
    if (!body.ok()) return body.status();
    return beacon_->Answer_(path);
  }
  const std::string& url() const override { return url_; }

 private:
  std::string url_;
  Beacon* beacon_;
};

struct ClientParts {
  testing_support::TempDir dir{"client-parts"};
  std::string device = common::NewUuid();
  client::ClientSettings settings;
  std::map<std::string, Beacon> beacons;  // by URL
  std::unique_ptr<client::StateFile> state;
  std::unique_ptr<client::AppliedPolicy> applied;
  std::unique_ptr<client::DeviceIdentity> identity;
  std::unique_ptr<client::BeaconSelector> selector;
  std::unique_ptr<common::Spool> outbox;
  std::unique_ptr<client::Uploads> uploads;
  std::unique_ptr<client::HealthChecks> health;

  explicit ClientParts(uint64_t outbox_max = uint64_t{256} << 20) {
    settings.server = "https://a.test";
    settings.state_dir = dir.path + "/state";
    settings.ca_file = std::string(TEST_CERT_DIR) + "/ca.pem";
    settings.policy_public_key = std::string(TEST_CERT_DIR) + "/policy.pub";
    settings.outbox_max_size = outbox_max;
    REQUIRE(common::MakeDirs(settings.state_dir, 0700).ok());
    state = Must(client::StateFile::Open(settings.state_dir + "/state"));
    applied = Must(client::AppliedPolicy::Open(settings, device, state.get()));
    identity = Must(client::DeviceIdentity::Open(settings, device, state.get()));
    selector = std::make_unique<client::BeaconSelector>(
        settings, state.get(), applied.get(), identity.get(),
        [this](const std::string& url) -> common::StatusOr<std::unique_ptr<common::Transport>> {
          return std::unique_ptr<common::Transport>(new Connection(url, &beacons[url]));
        });
    common::Spool::Options so;
    so.dir = settings.state_dir + "/outbox";
    so.max_bytes = outbox_max;
    so.min_free_bytes = 0;
    outbox = Must(common::Spool::Open(so));
    uploads = std::make_unique<client::Uploads>(settings, device, outbox.get(), applied.get(), state.get());
    OpenHealth();
    // As Client::Create wires them.
    selector->SetObserver([this](const client::FailoverOutcome& o) { health->Failover(o, Now()); });
  }

  // (Re)opens the health book, as a restarted client does.
  void OpenHealth() { health = Must(client::HealthChecks::Open(settings.state_dir, device, nullptr)); }

  client::QueueUpload Queue() {
    return [this](const std::string& kind, const std::string& id, const std::string& body) {
      return uploads->Queue(kind, id, body);
    };
  }

  // The bodies of the outbox's uploads of `kind`, oldest first.
  std::vector<std::string> Uploaded(const std::string& kind) {
    std::vector<std::string> bodies;
    for (const common::SpoolMeta& m : outbox->List()) {
      if (m.kind != kind) continue;
      auto body = outbox->ReadWholeBody(m, 16u << 20);
      REQUIRE(body.ok());
      bodies.push_back(*body);
    }
    return bodies;
  }

  // A manifest for this device signed with the test estate's policy key,
  // listing `files` (name -> content), scripted at `url` as the answer to
  // the manifest request and then each file request.
  std::string ServePolicy(const std::string& url, int64_t revision, const std::map<std::string, std::string>& files,
                          const std::vector<policy::ManifestAction>& actions = {}) {
    policy::Manifest m;
    m.revision = revision;
    m.device = device;
    m.actions = actions;
    for (const auto& [name, content] : files)
      m.files.push_back({name, common::Sha256Hex(content), content.size()});
    auto signer = policy::ManifestSigner::FromPemFile(std::string(TEST_CERT_DIR) + "/policy.key");
    REQUIRE(signer.ok());
    REQUIRE((*signer)->Sign(&m).ok());
    const std::string xml = policy::ToXml(m);
    beacons[url].script.push_back({200, xml, {{"etag", policy::ManifestEtag(xml)}}});
    for (const auto& [name, content] : files) beacons[url].script.push_back({200, content, {}});
    return xml;
  }

  // One policy check through failover, as Client::CheckPolicy makes it.
  common::Status CheckPolicy() {
    common::Status st = selector->WithFailover([this](common::Transport& beacon) {
      return applied->Check(beacon, common::protocol::CheckInHeaders(device, "test", applied->Revision(), 0));
    });
    health->Manifest(applied->Refusal(), Now());
    return st;
  }

  template <typename T>
  static T Must(common::StatusOr<T> r) {
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return std::move(r).value();
  }
};

}  // namespace client_test
