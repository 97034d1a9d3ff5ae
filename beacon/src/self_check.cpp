#include "self_check.h"

#include <algorithm>

#include "common/log.h"
#include "common/time.h"

#ifndef BEACON_VERSION
#define BEACON_VERSION "0.0.0-dev"
#endif

namespace beacon {

using inventory::HealthType;

namespace {
constexpr uint64_t kMiB = 1024 * 1024;
std::string Mib(uint64_t bytes) { return std::to_string(bytes / kMiB) + " MiB"; }
}  // namespace

common::StatusOr<std::unique_ptr<SelfCheck>> SelfCheck::Open(Parts parts) {
  if (parts.env == nullptr) parts.env = common::Env::Default();
  std::unique_ptr<SelfCheck> s(new SelfCheck(std::move(parts)));
  ASSIGN_OR_RETURN(s->book_, inventory::HealthBook::Open(s->parts_.settings->data_dir + "/health.xml",
                                                         inventory::HealthSource::kBeacon,
                                                         s->parts_.settings->name, s->parts_.env));
  return s;
}

// Opening a message is logged once; its repeats only count.
void SelfCheck::Raise(const std::string& id, const std::string& component, HealthType type, int priority,
                      const std::string& text, int64_t now) {
  if (!book_->IsOpen(id)) common::LogWarn("health: " + id + ": " + text);
  book_->Raise(id, component, type, priority, text, now);
}

void SelfCheck::Clear(const std::string& id, int64_t now) {
  if (book_->IsOpen(id)) common::LogInfo("health: " + id + " cleared");
  book_->Clear(id, now);
}

void SelfCheck::CheckSpool(int64_t now, inventory::HealthBeacon* status) {
  const Settings& s = *parts_.settings;
  common::Env* env = parts_.env;
  const std::string dir = parts_.spool->dir();
  status->spool_files = parts_.spool->Count();
  status->spool_bytes = parts_.spool->Bytes();
  for (const auto& meta : parts_.spool->List()) {
    if (meta.received_at > 0 && (status->spool_oldest == 0 || meta.received_at < status->spool_oldest)) {
      status->spool_oldest = meta.received_at;
    }
  }

  auto free = env->FreeBytes(dir);
  if (free.ok()) status->disk_free = *free;
  if (free.ok() && *free < s.health_min_free) {
    const bool refusing = *free < s.spool_min_free;
    Raise("beacon.spool-disk-short", "spool", refusing ? HealthType::kError : HealthType::kWarning, refusing ? 1 : 2,
          Mib(*free) + " free on the spool's file system (" + dir + "), below health_min_free " +
              Mib(s.health_min_free) + (refusing ? "; uploads are refused with 507" : ""),
          now);
  } else if (free.ok()) {
    Clear("beacon.spool-disk-short", now);
  }

  // The folders an upload passes through must take a new file, its bytes
  // and its removal: a probe in incoming/ (anything left there by a crash
  // is removed at start-up), and the names of ready/ and rejected/.
  const std::string probe = dir + "/incoming/.health-probe";
  common::Status st = [&]() -> common::Status {
    ASSIGN_OR_RETURN(auto file, env->NewWritableFile(probe, 0600, false));
    RETURN_IF_ERROR(file->Append("probe"));
    RETURN_IF_ERROR(file->Sync());
    RETURN_IF_ERROR(file->Close());
    RETURN_IF_ERROR(env->Remove(probe));
    RETURN_IF_ERROR(env->ListDir(dir + "/ready").status());
    return common::Status::Ok();
  }();
  if (!st.ok()) {
    Raise("beacon.spool-not-writable", "spool", HealthType::kError, 1, "the spool cannot take uploads: " + st.ToString(), now);
  } else {
    Clear("beacon.spool-not-writable", now);
  }

  auto rejected = env->ListDir(dir + "/rejected");
  status->rejected_files = rejected.ok() ? rejected->size() : 0;
  if (status->rejected_files > 0) {
    Raise("beacon.uploads-rejected", "spool", HealthType::kWarning, 2,
          std::to_string(status->rejected_files) + " file(s) in " + dir +
              "/rejected: uploads proven bad, kept for inspection (docs/spool.md)",
          now);
  } else {
    Clear("beacon.uploads-rejected", now);
  }
}

void SelfCheck::CheckUpstream(int64_t now, inventory::HealthBeacon* status) {
  if (!parts_.upstream) {
    status->central = true;
    status->upstream_ok = true;
    return;
  }
  UpstreamState up = parts_.upstream();
  status->upstream_ok = up.ok;
  status->upstream_since = up.since;
  const int64_t after = parts_.settings->upstream_warn_after.count();
  if (!up.ok && now - up.since >= after) {
    Raise("beacon.upstream-unreachable", "relay", HealthType::kError, 1,
          "the upstream " + parts_.settings->upstream + " has not answered since " + common::FormatRfc3339(up.since) +
              "; uploads wait in the spool",
          now);
  } else if (up.ok) {
    Clear("beacon.upstream-unreachable", now);
  }
}

void SelfCheck::CheckCertificates(int64_t now) {
  const int64_t warn_before = parts_.settings->cert_warn_before.count();
  std::vector<std::string> expiring;
  bool expired = false;
  auto note = [&](const std::string& what, int64_t at) {
    if (at == 0 || at - now >= warn_before) return;
    expired = expired || at <= now;
    expiring.push_back(what + (at <= now ? " expired at " : " expires at ") + common::FormatRfc3339(at));
  };
  const common::PeerIdentity own = parts_.own();
  note("this beacon's certificate (serial " + own.serial + ")", own.not_after);
  const common::pki::TrustBundle bundle = parts_.trust->bundle();
  for (const std::string& ca : bundle.ca_pems) {
    if (auto at = common::CertNotAfter(ca); at.ok()) note("an estate CA certificate", *at);
  }
  if (!expiring.empty()) {
    std::string text;
    for (const auto& e : expiring) text += (text.empty() ? "" : "; ") + e;
    Raise("beacon.certificate-expiring", "identity", expired ? HealthType::kError : HealthType::kWarning, expired ? 1 : 2, text,
          now);
  } else {
    Clear("beacon.certificate-expiring", now);
  }

  // The central signs its revocation lists anew at half their validity: one
  // with less than a quarter left has missed its renewals (the central, or
  // on a relay the upstream, has not been heard from).
  std::string stale;
  bool past = false;
  for (const auto& crl : bundle.crls) {
    if (crl.next_update - now < (crl.next_update - crl.this_update) / 4) {
      past = past || crl.next_update <= now;
      stale += (stale.empty() ? "" : "; ") + std::string("revocation list ") + std::to_string(crl.number) +
               (crl.next_update <= now ? " expired at " : " expires at ") + common::FormatRfc3339(crl.next_update);
    }
  }
  if (!stale.empty()) {
    Raise("beacon.crl-expiring", "trust", past ? HealthType::kError : HealthType::kWarning, past ? 1 : 2,
          stale + " and has not been renewed", now);
  } else {
    Clear("beacon.crl-expiring", now);
  }
}

inventory::Health SelfCheck::Check(int64_t now) {
  inventory::HealthBeacon status;
  status.version = BEACON_VERSION;
  status.interval = parts_.settings->health_interval.count();
  status.cert_not_after = parts_.own().not_after;
  CheckSpool(now, &status);
  CheckUpstream(now, &status);
  CheckCertificates(now);
  return book_->Report(now, status);
}

common::Status SelfCheck::Sent(const inventory::Health& report) {
  book_->MarkReported(report);
  return book_->Save();
}

}  // namespace beacon
