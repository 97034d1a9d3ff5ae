#include "identity_cmd.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <ostream>

#include "beacon/estate_ca.h"
#include "common/config.h"
#include "common/fs.h"
#include "common/identity.h"
#include "common/pki.h"
#include "common/sha256.h"
#include "common/text.h"
#include "common/uuid.h"
#include "inventory/store.h"
#include "output.h"
#include "table.h"

namespace beaconctl {

using common::Status;
using common::StatusOr;
namespace pki = common::pki;

namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

StatusOr<std::chrono::seconds> Duration(const std::string& text, const std::string& fallback) {
  auto s = common::ParseDuration(text.empty() ? fallback : text);
  if (!s.ok() || *s <= 0) return common::InvalidArgument("usage: '" + text + "' is not a duration like 90d or 12h");
  return std::chrono::seconds(*s);
}

// A new key, and a certificate of `kind` for it from the estate CA, written
// to DIR/NAME.key (0600) and DIR/NAME.pem, with the trust bundle as
// DIR/ca.pem; recorded in the store.
Status IssueTo(const std::string& data_dir, inventory::Store& store, common::PeerKind kind, const std::string& id,
               const std::vector<std::string>& hosts, std::chrono::seconds validity, const std::string& dir,
               std::ostream& out) {
  ASSIGN_OR_RETURN(auto ca, pki::CertAuthority::Load(beacon::CaDir(data_dir)));
  ASSIGN_OR_RETURN(std::string key, pki::NewKeyPem());
  ASSIGN_OR_RETURN(std::string csr, pki::MakeCsr(key, id));
  ASSIGN_OR_RETURN(pki::CsrInfo info, pki::ParseCsr(csr));
  ASSIGN_OR_RETURN(pki::IssuedCert cert, ca->Issue(info.public_key_der, kind, id, hosts, validity, Now()));
  inventory::IssuedCertRow row;
  row.serial = cert.identity.serial;
  row.kind = common::PeerKindName(kind);
  row.subject = id;
  row.key_sha256 = cert.identity.key_sha256;
  ASSIGN_OR_RETURN(row.issuer_sha256, common::CertKeySha256(ca->cert_pem()));
  row.issued_at = Now();
  row.not_after = cert.identity.not_after;
  ASSIGN_OR_RETURN(std::string trust, common::ReadFile(beacon::TrustPath(data_dir), pki::kMaxTrustBytes));
  // Recorded before it is handed out: revocation must be able to find it.
  RETURN_IF_ERROR(store.RecordCertificate(row));
  RETURN_IF_ERROR(common::MakeDirs(dir, 0755));
  RETURN_IF_ERROR(common::WriteFileAtomic(dir + "/" + id + ".key", key, 0600));
  RETURN_IF_ERROR(common::WriteFileAtomic(dir + "/" + id + ".pem", cert.pem, 0644));
  RETURN_IF_ERROR(common::WriteFileAtomic(dir + "/ca.pem", trust, 0644));
  out << "issued " << row.kind << " certificate " << row.serial << " for '" << id << "', valid until "
      << FormatTime(row.not_after) << "\n  " << dir << "/" << id << ".pem\n  " << dir << "/" << id
      << ".key (keep it secret)\n  " << dir << "/ca.pem (the estate's trust bundle)\n";
  return Status::Ok();
}

void PrintEnrollments(const std::vector<inventory::Enrollment>& list, Format format, std::ostream& out) {
  Listing l;
  l.columns = {{.field = "request_id", .header = "REQUEST"},
               {.field = "device_id", .header = "DEVICE"},
               {.field = "kind", .header = "KIND"},
               {.field = "state", .header = "STATE"},
               {.field = "host", .header = "HOST"},
               {.field = "via", .header = "VIA"},
               {.field = "secret_id", .header = "SECRET"},
               {.field = "received", .header = "RECEIVED", .time = true},
               {.field = "decided", .time = true},
               {.field = "serial"},
               {.field = "reason"},
               {.field = "serial_or_reason", .header = "SERIAL OR REASON", .table_only = true}};
  for (const auto& e : list) {
    l.rows.push_back({Value::Untrusted(e.request_id), Value::Untrusted(e.device_id), Value::Text(e.kind),
                      Value::Text(e.state), Value::Untrusted(e.host), Value::Untrusted(e.via),
                      Value::Untrusted(e.secret_id), Value::Time(e.received_at), Value::Time(e.decided_at),
                      Value::Text(e.serial), Value::Untrusted(e.reason),
                      Value::Untrusted(e.state == "issued" ? e.serial : e.reason)});
  }
  Print(out, format, l);
}

}  // namespace

IdentityCommand::IdentityCommand(CLI::App& app) {
  ca_ = app.add_subcommand("ca", "the estate CA");
  ca_->require_subcommand(1);
  ca_init_ = ca_->add_subcommand("init", "create the estate CA in DATA_DIR/ca and the trust bundle");
  ca_init_->add_option("--name", name_, "the CA's name")->capture_default_str();
  ca_init_->add_option("--validity", validity_, "how long the CA is valid (default 3650d)");
  ca_show_ = ca_->add_subcommand("show", "the CAs, revocation lists and certificates issued");
  ca_show_format_.AddTo(*ca_show_);
  ca_rollover_ = ca_->add_subcommand("rollover", "introduce a new CA beside the current one");
  ca_rollover_->add_option("--name", name_, "the new CA's name");
  ca_rollover_->add_option("--validity", validity_, "how long the new CA is valid (default 3650d)");
  ca_retire_ = ca_->add_subcommand("retire", "end a rollover: the old CA leaves the trust bundle");
  ca_retire_->add_flag("--force", force_, "even while certificates from the old CA alone are in use");

  beacon_ = app.add_subcommand("beacon", "beacon certificates");
  beacon_->require_subcommand(1);
  beacon_issue_ = beacon_->add_subcommand("issue", "a key and certificate for a beacon");
  beacon_issue_->add_option("NAME", name_, "the beacon's name (its `name` setting)")->required();
  beacon_issue_->add_option("--host", hosts_, "a DNS name or address clients use for it (repeat)")->required();
  beacon_issue_->add_option("--out", out_dir_, "where to write NAME.pem, NAME.key and ca.pem")->capture_default_str();
  beacon_issue_->add_option("--validity", validity_, "how long the certificate is valid (default 365d)");
  beacon_revoke_ = beacon_->add_subcommand("revoke", "revoke every certificate of a beacon");
  beacon_revoke_->add_option("NAME", name_, "the beacon's name")->required();

  device_ = app.add_subcommand("device", "device certificates");
  device_->require_subcommand(1);
  device_issue_ = device_->add_subcommand(
      "issue", "a key and certificate for a device, made here instead of by enrollment (machines provisioned offline)");
  device_issue_->add_option("DEVICE_ID", id_, "the device id (a lower-case UUID)")->required();
  device_issue_->add_option("--out", out_dir_, "where to write DEVICE_ID.pem, DEVICE_ID.key and ca.pem")->capture_default_str();
  device_issue_->add_option("--validity", validity_, "how long the certificate is valid (default 90d)");
  device_revoke_ = device_->add_subcommand("revoke", "revoke every certificate of a device; it cannot enroll again");
  device_revoke_->add_option("DEVICE_ID", id_, "the device")->required();

  enroll_ = app.add_subcommand("enroll", "enrollment secrets and requests");
  enroll_->require_subcommand(1);
  secret_ = enroll_->add_subcommand("secret", "enrollment secrets");
  secret_->require_subcommand(1);
  secret_create_ = secret_->add_subcommand("create", "a new secret (printed once; stored hashed)");
  secret_create_->add_option("--uses", uses_, "how many enrollments it allows (0 = unlimited)")->capture_default_str();
  secret_create_->add_option("--expires", expires_, "how long it is valid, e.g. 7d (default: never expires)");
  secret_create_->add_option("--label", label_, "a note for yourself ([A-Za-z0-9._:-])");
  secret_list_ = secret_->add_subcommand("list", "list secrets (never the secrets themselves)");
  secret_list_format_.AddTo(*secret_list_);
  secret_revoke_ = secret_->add_subcommand("revoke", "revoke a secret");
  secret_revoke_->add_option("ID", id_, "the secret's id (the part before the dot)")->required();
  enroll_list_ = enroll_->add_subcommand("list", "enrollment and renewal requests, newest first");
  enroll_list_->add_option("--state", state_, "pending, issued, refused or denied");
  enroll_pending_ = enroll_->add_subcommand("pending", "requests waiting for approval");
  list_format_.AddTo(*enroll_list_);
  list_format_.AddTo(*enroll_pending_);
  enroll_approve_ = enroll_->add_subcommand("approve", "issue the certificate of a pending request");
  enroll_approve_->add_option("REQUEST", id_, "the request id")->required();
  enroll_approve_->add_option("--validity", validity_, "how long the certificate is valid (default 90d, as the central's device_cert_validity)");
  enroll_deny_ = enroll_->add_subcommand("deny", "refuse a pending request for good");
  enroll_deny_->add_option("REQUEST", id_, "the request id")->required();
  enroll_clones_ = enroll_->add_subcommand("clones", "devices with enrollments refused because of another key");
  clones_format_.AddTo(*enroll_clones_);
  name_ = "Beacon Estate CA";
}

bool IdentityCommand::Chosen() const {
  // `device show` belongs to estate_cmd.h.
  return ca_->parsed() || beacon_->parsed() || device_issue_->parsed() || device_revoke_->parsed() ||
         enroll_->parsed();
}

Status IdentityCommand::Run(const std::string& data_dir, const inventory::StoreLocation& store_path, std::ostream& out) const {
  const bool reads_only = ca_show_->parsed() || secret_list_->parsed() || enroll_list_->parsed() ||
                          enroll_pending_->parsed() || enroll_clones_->parsed();
  if (!ca_init_->parsed() && !common::FileExists(beacon::CaDir(data_dir) + "/ca.key")) {
    return common::FailedPrecondition("no estate CA in " + beacon::CaDir(data_dir) + ": run `beaconctl ca init` first");
  }
  ASSIGN_OR_RETURN(auto store, inventory::OpenStore(store_path, reads_only));
  // 7 days, the central's default crl_validity; the central re-signs on its own schedule.
  const std::chrono::seconds crl_validity(7 * 86400);
  auto publish = [&] { return beacon::PublishTrust(data_dir, *store, Now(), crl_validity); };

  if (ca_init_->parsed()) {
    ASSIGN_OR_RETURN(auto validity, Duration(validity_, "3650d"));
    RETURN_IF_ERROR(pki::CertAuthority::Init(beacon::CaDir(data_dir), name_, validity));
    RETURN_IF_ERROR(publish());
    out << "estate CA '" << name_ << "' created in " << beacon::CaDir(data_dir) << "\ntrust bundle: "
        << beacon::TrustPath(data_dir) << " (give it to relays and clients as ca_file)\n";
    return Status::Ok();
  }
  if (ca_show_->parsed()) {
    ASSIGN_OR_RETURN(auto certs, store->ListCertificates());
    Listing l;
    l.columns = {{.field = "serial", .header = "SERIAL"},
                 {.field = "kind", .header = "KIND"},
                 {.field = "subject", .header = "SUBJECT"},
                 {.field = "issuer_sha256", .header = "ISSUER"},
                 {.field = "issued", .time = true},
                 {.field = "expires", .header = "EXPIRES", .time = true},
                 {.field = "revoked", .header = "REVOKED", .time = true}};
    for (const auto& c : certs) {
      l.rows.push_back({Value::Text(c.serial), Value::Text(c.kind), Value::Untrusted(c.subject),
                        Value::Text(c.issuer_sha256).Shown(c.issuer_sha256.substr(0, 16)), Value::Time(c.issued_at),
                        Value::Time(c.not_after),
                        Value::Time(c.revoked_at).Shown(c.revoked_at ? "revoked " + FormatTime(c.revoked_at) : "-")});
    }
    // --json and --csv list the certificates only; the bundle's summary is for people.
    if (ca_show_format_.Get() == Format::kTable) {
      ASSIGN_OR_RETURN(std::string pem, common::ReadFile(beacon::TrustPath(data_dir), pki::kMaxTrustBytes));
      ASSIGN_OR_RETURN(pki::TrustBundle b, pki::ParseTrustBundle(pem));
      out << "CAs in the trust bundle: " << b.ca_pems.size() << (b.ca_pems.size() > 1 ? " (rollover in progress)" : "")
          << "\nrevoked certificates: " << b.RevokedSerials().size() << "\nexpires (first CA or CRL): "
          << FormatTime(b.ExpiresAt()) << "\n";
      for (const auto& crl : b.crls) {
        out << "CRL " << crl.number << " of CA " << crl.issuer_sha256.substr(0, 16) << ": next update "
            << FormatTime(crl.next_update) << "\n";
      }
      out << "\n";
    }
    Print(out, ca_show_format_.Get(), l);
    return Status::Ok();
  }
  if (ca_rollover_->parsed()) {
    ASSIGN_OR_RETURN(auto ca, pki::CertAuthority::Load(beacon::CaDir(data_dir)));
    if (ca->rolling_over()) return common::FailedPrecondition("a rollover is in progress: `beaconctl ca retire` first");
    ASSIGN_OR_RETURN(auto validity, Duration(validity_, "3650d"));
    RETURN_IF_ERROR(ca->Rollover(name_, validity, Now()));
    RETURN_IF_ERROR(publish());
    out << "new CA '" << name_ << "' introduced; the trust bundle holds both CAs.\n"
        << "Devices renew onto the new CA by themselves; reissue beacon certificates with `beaconctl beacon issue`,\n"
        << "then `beaconctl ca retire` once no certificate depends on the old CA alone.\n";
    return Status::Ok();
  }
  if (ca_retire_->parsed()) {
    ASSIGN_OR_RETURN(auto ca, pki::CertAuthority::Load(beacon::CaDir(data_dir)));
    if (!ca->rolling_over()) return common::FailedPrecondition("no rollover is in progress");
    ASSIGN_OR_RETURN(std::string old_issuer, common::CertKeySha256(ca->old_cert_pem()));
    ASSIGN_OR_RETURN(auto stranded, store->OnlyFromIssuer(old_issuer, Now()));
    if (!stranded.empty() && !force_) {
      std::string list;
      for (size_t i = 0; i < stranded.size() && i < 10; ++i) {
        list += "\n  " + stranded[i].kind + " " + common::Printable(stranded[i].subject) + " (" + stranded[i].serial + ")";
      }
      return common::FailedPrecondition(std::to_string(stranded.size()) +
                                        " certificate(s) still depend on the old CA alone; they would be cut off:" +
                                        list + "\n(wait for them to renew, reissue them, or use --force)");
    }
    RETURN_IF_ERROR(ca->RetireOld());
    RETURN_IF_ERROR(publish());
    out << "the old CA has left the trust bundle\n";
    return Status::Ok();
  }
  if (beacon_issue_->parsed()) {
    if (!common::IsToken(name_)) return common::InvalidArgument("usage: NAME must match [A-Za-z0-9._:-]{1,64}");
    ASSIGN_OR_RETURN(auto validity, Duration(validity_, "365d"));
    return IssueTo(data_dir, *store, common::PeerKind::kBeacon, name_, hosts_, validity, out_dir_, out);
  }
  if (device_issue_->parsed()) {
    if (!common::IsUuid(id_)) return common::InvalidArgument("usage: DEVICE_ID must be a lower-case UUID");
    ASSIGN_OR_RETURN(auto validity, Duration(validity_, "90d"));
    return IssueTo(data_dir, *store, common::PeerKind::kDevice, id_, {}, validity, out_dir_, out);
  }
  if (beacon_revoke_->parsed() || device_revoke_->parsed()) {
    const bool beacon = beacon_revoke_->parsed();
    const std::string subject = beacon ? name_ : id_;
    ASSIGN_OR_RETURN(int64_t n, store->RevokeSubject(beacon ? "beacon" : "device", subject, Now()));
    RETURN_IF_ERROR(publish());
    out << "revoked " << n << " certificate(s) of " << (beacon ? "beacon " : "device ") << common::Printable(subject)
        << "; the central enforces it at once, relays on their next trust refresh\n";
    return Status::Ok();
  }
  if (secret_create_->parsed()) {
    if (!label_.empty() && !common::IsToken(label_)) return common::InvalidArgument("usage: --label must match [A-Za-z0-9._:-]{1,64}");
    if (uses_ < 0) return common::InvalidArgument("usage: --uses must not be negative");
    inventory::EnrollSecret s;
    s.id = common::RandomHex(4);
    s.label = label_;
    s.created_at = Now();
    s.max_uses = uses_;
    if (!expires_.empty()) {
      ASSIGN_OR_RETURN(auto d, Duration(expires_, ""));
      s.expires_at = s.created_at + d.count();
    }
    const std::string secret = s.id + "." + common::RandomHex(16);
    RETURN_IF_ERROR(store->AddEnrollSecret(s, common::Sha256Hex(secret)));
    out << secret << "\n";
    return Status::Ok();
  }
  if (secret_list_->parsed()) {
    ASSIGN_OR_RETURN(auto list, store->ListEnrollSecrets());
    Listing l;
    l.columns = {{.field = "id", .header = "ID"},
                 {.field = "label", .header = "LABEL"},
                 {.field = "created", .header = "CREATED", .time = true},
                 {.field = "expires", .header = "EXPIRES", .time = true},
                 {.field = "uses", .header = "USES"},
                 {.field = "max_uses"},
                 {.field = "revoked", .header = "REVOKED", .time = true}};
    for (const auto& s : list) {
      l.rows.push_back(
          {Value::Text(s.id), Value::Untrusted(s.label), Value::Time(s.created_at), Value::Time(s.expires_at),
           Value::Int(s.uses).Shown(std::to_string(s.uses) + "/" +
                                    (s.max_uses ? std::to_string(s.max_uses) : "unlimited")),
           Value::Int(s.max_uses), Value::Time(s.revoked_at).Shown(s.revoked_at ? "revoked " + FormatTime(s.revoked_at) : "-")});
    }
    Print(out, secret_list_format_.Get(), l);
    return Status::Ok();
  }
  if (secret_revoke_->parsed()) {
    RETURN_IF_ERROR(store->RevokeEnrollSecret(id_, Now()));
    out << "secret " << common::Printable(id_) << " revoked\n";
    return Status::Ok();
  }
  if (enroll_list_->parsed() || enroll_pending_->parsed()) {
    ASSIGN_OR_RETURN(auto list, store->ListEnrollments(enroll_pending_->parsed() ? "pending" : state_));
    PrintEnrollments(list, list_format_.Get(), out);
    return Status::Ok();
  }
  if (enroll_approve_->parsed() || enroll_deny_->parsed()) {
    ASSIGN_OR_RETURN(auto validity, Duration(validity_, "90d"));
    auto e = enroll_approve_->parsed() ? store->ApproveEnrollment(id_, Now(), beacon::DeviceIssuer(data_dir, validity))
                                       : store->DenyEnrollment(id_, Now());
    RETURN_IF_ERROR(e.status());
    PrintEnrollments({*e}, Format::kTable, out);
    return Status::Ok();
  }
  if (enroll_clones_->parsed()) {
    ASSIGN_OR_RETURN(auto clones, store->ListClones());
    Listing l;
    l.columns = {{.field = "device_id", .header = "DEVICE"},
                 {.field = "key_sha256", .header = "ENROLLED KEY"},
                 {.field = "clone_reports", .header = "CLONE REPORTS"},
                 {.field = "last_report", .header = "LAST", .time = true},
                 {.field = "last_key_sha256", .header = "LAST OTHER KEY"}};
    for (const auto& c : clones) {
      l.rows.push_back({Value::Text(c.device_id), Value::Text(c.key_sha256).Shown(c.key_sha256.substr(0, 16)),
                        Value::Int(c.clone_reports), Value::Time(c.clone_last_at),
                        Value::Text(c.clone_key_sha256).Shown(c.clone_key_sha256.substr(0, 16))});
    }
    Print(out, clones_format_.Get(), l);
    return Status::Ok();
  }
  return common::InvalidArgument("usage: no command");
}

}  // namespace beaconctl
