#include "checkins.h"

#include <sstream>

#include "common/config.h"
#include "common/uuid.h"

namespace beacon {

void CheckinTracker::Record(inventory::Checkin c) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(c.device_id);
  if (it == pending_.end()) {
    if (pending_.size() >= kMaxPending) {
      ++dropped_;
      return;
    }
    pending_.emplace(c.device_id, std::move(c));
  } else if (c.seen_at >= it->second.seen_at) {
    it->second = std::move(c);
  }
}

uint64_t CheckinTracker::dropped() {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

std::vector<inventory::Checkin> CheckinTracker::Drain() {
  std::vector<inventory::Checkin> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.reserve(pending_.size());
  for (auto& [id, c] : pending_) out.push_back(std::move(c));
  pending_.clear();
  return out;
}

void CheckinTracker::Restore(std::vector<inventory::Checkin> checkins) {
  for (auto& c : checkins) Record(std::move(c));
}

std::string EncodeCheckins(const std::vector<inventory::Checkin>& checkins) {
  std::ostringstream out;
  out << "# beacon checkins v1\n";
  for (const auto& c : checkins) {
    out << c.device_id << '\t' << c.seen_at << '\t' << c.via << '\t' << c.client_version << '\t'
        << c.policy_revision << '\t' << c.outbox_depth << '\t' << c.peer << '\t' << c.check_interval << '\n';
  }
  return out.str();
}

namespace {
bool ParseI64(const std::string& s, int64_t* out) { return common::ParseDecimal(s, out); }
bool IsPeer(const std::string& s) {
  if (s.size() > 64) return false;
  for (char ch : s) {
    bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
              ch == '.' || ch == ':';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

common::StatusOr<std::vector<inventory::Checkin>> DecodeCheckins(const std::string& body) {
  std::vector<inventory::Checkin> out;
  std::istringstream in(body);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (lineno == 1) {
      if (line != "# beacon checkins v1") return common::InvalidArgument("checkins:1: bad header line");
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::istringstream ls(line);
    std::string field;
    while (std::getline(ls, field, '\t')) f.push_back(field);
    if (line.back() == '\t') f.push_back("");
    auto bad = [&](const std::string& what) {
      return common::InvalidArgument("checkins:" + std::to_string(lineno) + ": " + what);
    };
    // 7 fields from a relay older than the check interval (read as 0).
    if (f.size() != 7 && f.size() != 8) return bad("expected 8 tab-separated fields");
    inventory::Checkin c;
    c.device_id = f[0];
    if (!common::IsUuid(c.device_id)) return bad("device id is not a UUID");
    if (!ParseI64(f[1], &c.seen_at)) return bad("bad time");
    c.via = f[2];
    if (!c.via.empty() && !common::IsToken(c.via)) return bad("bad beacon name");
    c.client_version = f[3];
    if (!c.client_version.empty() && !common::IsToken(c.client_version)) return bad("bad client version");
    if (!ParseI64(f[4], &c.policy_revision)) return bad("bad policy revision");
    if (!ParseI64(f[5], &c.outbox_depth)) return bad("bad outbox depth");
    c.peer = f[6];
    if (!IsPeer(c.peer)) return bad("bad peer address");
    if (f.size() == 8 && !ParseI64(f[7], &c.check_interval)) return bad("bad check interval");
    out.push_back(std::move(c));
  }
  if (lineno == 0) return common::InvalidArgument("checkins: empty body");
  return out;
}

}  // namespace beacon
