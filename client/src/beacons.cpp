#include "beacons.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <ctime>

#include "common/log.h"
#include "common/retry.h"

namespace client {

using common::Status;
using common::StatusOr;

namespace {
int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// Passes every request on and notes the Date header of each response (the
// beacon's clock, for the clock-skew check).
class DateNoting : public common::Transport {
 public:
  DateNoting(common::Transport* inner, FailoverOutcome* outcome) : inner_(inner), outcome_(outcome) {}
  StatusOr<common::HttpResult> Get(const std::string& path, const common::HeaderList& headers,
                                   uint64_t max_body) override {
    return Note(inner_->Get(path, headers, max_body));
  }
  StatusOr<common::HttpResult> Put(const std::string& path, const common::HeaderList& headers, uint64_t size,
                                   const common::BodySource& source, const std::string& content_type) override {
    return Note(inner_->Put(path, headers, size, source, content_type));
  }
  const std::string& url() const override { return inner_->url(); }

 private:
  StatusOr<common::HttpResult> Note(StatusOr<common::HttpResult> r) {
    if (r.ok() && !r->Header("date").empty()) {
      outcome_->date = r->Header("date");
      outcome_->date_received_at = Now();
    }
    return r;
  }
  common::Transport* inner_;
  FailoverOutcome* outcome_;
};

}  // namespace

BeaconSelector::BeaconSelector(const ClientSettings& settings, StateFile* state,
                               const AppliedPolicy* applied, const DeviceIdentity* identity, Connector connector)
    : settings_(settings), state_(state), applied_(applied), identity_(identity), connector_(std::move(connector)) {
  // Both within 1 s .. 1 h (ClientSettings::Validate), so they fit an int.
  options_.connect_timeout_s = static_cast<int>(settings.connect_timeout.count());
  options_.read_timeout_s = static_cast<int>(settings.request_timeout.count());
  options_.write_timeout_s = options_.read_timeout_s;
}

std::vector<std::string> BeaconSelector::Beacons() const {
  std::vector<std::string> urls;
  if (applied_->FailoverXml()) {
    std::vector<policy::FailoverBeacon> list = applied_->FailoverXml()->beacons;
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.priority < b.priority; });
    for (const auto& b : list) {
      if (!b.site.empty() && b.site != settings_.site) continue;
      if (!b.subnet.empty() && !HasAddressIn(b.subnet)) continue;
      urls.push_back(b.url);
    }
  }
  if (std::find(urls.begin(), urls.end(), settings_.server) == urls.end())
    urls.push_back(settings_.server);
  return urls;
}

StatusOr<common::Transport*> BeaconSelector::Http(bool may_return_to_preferred) {
  std::vector<std::string> urls = Beacons();
  auto it = std::find(urls.begin(), urls.end(), state_->Get("beacon"));
  bool back_to_preferred =
      may_return_to_preferred && it != urls.begin() &&
      Now() - state_->GetInt("beacon_since") >= settings_.failover_return_after.count();
  if (it == urls.end() || back_to_preferred) {
    UseBeacon(urls.front(),
              it == urls.end() ? "preferred beacon" : "returning to the preferred beacon");
  }
  if (!http_) {
    if (connector_) {
      ASSIGN_OR_RETURN(http_, connector_(state_->Get("beacon")));
    } else {
      ASSIGN_OR_RETURN(http_, Connect(state_->Get("beacon")));
    }
  }
  return http_.get();
}

StatusOr<std::unique_ptr<common::HttpClient>> BeaconSelector::Connect(const std::string& url) const {
  common::ClientOptions o = options_;
  o.url = url;
  // Read at each connection: trust.pem appears with the first bundle accepted.
  o.ca_file = identity_->CaFile();
  if (identity_->Enrolled()) {
    o.cert_file = identity_->CertFile();
    o.key_file = identity_->KeyFile();
  }
  SetProxy(&o);
  return common::HttpClient::Create(o);
}

void BeaconSelector::SetProxy(common::ClientOptions* o) const {
  if (!settings_.proxy.empty()) {
    o->proxy_url = settings_.proxy;
    o->proxy_username = settings_.proxy_username;
    o->proxy_password = settings_.proxy_password;
    return;
  }
  if (applied_->HasPolicyXml() && applied_->Policy().proxy) {
    o->proxy_url = applied_->Policy().proxy->url;
    o->proxy_username = applied_->Policy().proxy->username;
    o->proxy_password = applied_->Policy().proxy->password;
  }
}

void BeaconSelector::UseBeacon(const std::string& url, const std::string& why) {
  if (state_->Get("beacon") != url) http_.reset();
  state_->Set("beacon", url);
  state_->SetInt("beacon_since", Now());
  state_->Set("beacon_why", why);
}

Status BeaconSelector::WithFailover(const std::function<Status(common::Transport&)>& op) {
  std::vector<std::string> urls = Beacons();
  FailoverOutcome outcome;
  Status st;
  for (size_t attempt = 0; attempt < urls.size(); ++attempt) {
    // Going back to the preferred beacon is tried first, never in the
    // middle of failing over.
    auto cli = Http(attempt == 0);
    if (!cli.ok()) {
      // No connection could even be made (a bad URL, no CA bundle): nothing
      // about the beacon, so no failover.
      outcome.attempts.push_back({state_->Get("beacon"), cli.status()});
      st = cli.status();
      break;
    }
    DateNoting noting(*cli, &outcome);
    st = op(noting);
    outcome.attempts.push_back({state_->Get("beacon"), st});
    if (common::Classify(st) != common::Outcome::kRetry) break;
    http_.reset();
    std::string failed = state_->Get("beacon");
    auto it = std::find(urls.begin(), urls.end(), failed);
    size_t next = it == urls.end() ? 0 : static_cast<size_t>(it - urls.begin() + 1) % urls.size();
    common::LogWarn("beacon " + failed + " failed (" + st.ToString() + "); trying " + urls[next]);
    UseBeacon(urls[next], "failed over: " + failed + " " + st.message());
  }
  if (observer_) observer_(outcome);
  return st;
}

bool BeaconSelector::HasAddressIn(const std::string& cidr) {
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (auto* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    int family = a->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    const void* addr =
        family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr);
    char text[INET6_ADDRSTRLEN] = {};
    found = inet_ntop(family, addr, text, sizeof(text)) != nullptr &&
            policy::SubnetContains(cidr, text);
  }
  freeifaddrs(list);
  return found;
}

}  // namespace client
