// The diagnostic report and its code table. The table is the one list of
// codes and hints; docs/diagnose.md repeats it with each code's manual check.
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/diagnose.h"
#include "common/time.h"

namespace common {

namespace {

struct CodeRow {
  const char* code;
  const char* hint;
};

// clang-format off
constexpr CodeRow kCodes[] = {
    {"D100", "the configuration does not validate: fix the key named, then run diagnose again"},
    {"D101", "the CA bundle (ca_file, or trust.pem once a bundle was received) is missing, unreadable or holds no CA certificate: install the estate's ca.pem"},
    {"D102", "the policy public key (policy_public_key) is missing or not a PEM Ed25519 public key: install the estate's policy.pub"},
    {"D103", "the certificate is unreadable, not from this estate, or names someone else: enroll again (client) or issue a new one with `beaconctl beacon issue` (beacon)"},
    {"D104", "the private key is missing, unreadable or does not belong to the certificate: restore the key that was enrolled, or enroll again"},
    {"D105", "the state folder cannot be read: check its owner and permissions"},
    {"D200", "the name does not resolve: check the server (or proxy) URL for typing errors, and the DNS records"},
    {"D201", "the name server did not answer in time: check /etc/resolv.conf and that a name server is reachable"},
    {"D202", "the resolver failed: check /etc/resolv.conf and /etc/nsswitch.conf"},
    {"D300", "the connection was refused: the beacon (or proxy) is not running on that port, or a firewall rejects it"},
    {"D301", "the connection timed out: a firewall drops the packets, or the host is down"},
    {"D302", "no route to the host: check the network, the routes and the address"},
    {"D400", "the proxy wants credentials (407): set proxy_username and proxy_password, or fix them"},
    {"D401", "the proxy refused to open a tunnel to the beacon: allow CONNECT to its host and port on the proxy"},
    {"D402", "the proxy did not answer the CONNECT request properly: check that `proxy` names an HTTP proxy"},
    {"D500", "the CA bundle could not be loaded for TLS: check that ca_file holds PEM certificates"},
    {"D501", "the beacon's certificate is not from a CA in the bundle: install the estate's ca.pem, or check that nothing intercepts TLS on the way"},
    {"D502", "the beacon's certificate is not for this host name: use the name the certificate lists, or issue the beacon a certificate with --host for it"},
    {"D503", "the beacon's certificate has expired: issue it a new one (`beaconctl beacon issue`); check this machine's clock too"},
    {"D504", "the beacon's certificate is not valid yet: check this machine's clock"},
    {"D505", "the TLS handshake failed: check that the port is the beacon's HTTPS port and that both sides allow TLS 1.2 or newer"},
    {"D506", "the beacon's certificate was refused for another reason (named in the detail): issue it a new one"},
    {"D600", "the beacon answered the ping with an error: read the beacon's log"},
    {"D601", "no HTTP answer to the ping after TLS: check the beacon's log and any proxy in between"},
    {"D700", "this device has no certificate yet: run `beacon-client enroll` (with enroll_secret set, or approve it with beaconctl)"},
    {"D701", "the beacon does not accept the certificate (unknown CA or no estate identity): enroll again"},
    {"D702", "the certificate has expired or is not valid yet: check the clock, then enroll again if it has expired"},
    {"D703", "the certificate is revoked: an administrator revoked it (`beaconctl device show`); re-enrollment needs the administrator"},
    {"D704", "the beacon refused the certificate for this request (another device's certificate, or relay-only): check the state folder holds this device's own identity"},
    {"D705", "the identified request failed: read the detail and the beacon's log"},
    {"D800", "the manifest could not be fetched: read the detail (503: the relay cannot reach the central yet)"},
    {"D801", "the manifest is malformed: the beacon or something on the way altered it"},
    {"D802", "the manifest's signature does not verify with policy_public_key: install the estate's policy.pub, or something altered the manifest"},
    {"D803", "the manifest names another device: the beacon serves someone else's policy; report it"},
    {"D804", "the manifest is older than the applied policy: a beacon serves a stale revision; check its upstream"},
    {"D805", "a policy file could not be fetched: read the detail and the beacon's log"},
    {"D806", "a policy file does not match its SHA-256: something on the way altered it"},
    {"D900", "the upload got no answer: read the detail and the beacon's log"},
    {"D901", "the beacon refused the upload for this certificate: see the identity step"},
    {"D902", "the upload is larger than the beacon accepts (max_upload_size)"},
    {"D903", "the beacon refused the upload's content (422): read the beacon's log"},
    {"D904", "the beacon is busy or its spool is full (503): uploads wait in the outbox and are retried"},
    {"D905", "the beacon's disk is short of space (507): free space on the beacon or lower spool_min_free"},
    {"D906", "the beacon answered the upload with an unexpected status: read the beacon's log"},
};
// clang-format on

}  // namespace

std::string DiagnoseHint(const std::string& code) {
  for (const CodeRow& r : kCodes) {
    if (code == r.code) return r.hint;
  }
  return "";
}

bool DiagnoseReport::ok() const { return FirstFailure().empty(); }

std::string DiagnoseReport::FirstFailure() const {
  for (const auto& s : steps) {
    if (s.result == "fail") return s.code;
  }
  return "";
}

bool DiagnoseReport::Passed(const std::string& name) const {
  for (const auto& s : steps) {
    if (s.name == name) return s.result == "pass";
  }
  return false;
}

void DiagnoseReport::Pass(const std::string& name, const std::string& detail, const std::string& manual) {
  steps.push_back({name, "pass", "", detail, "", manual});
}

void DiagnoseReport::Fail(const std::string& name, const std::string& code, const std::string& detail,
                          const std::string& manual) {
  steps.push_back({name, "fail", code, detail, DiagnoseHint(code), manual});
}

void DiagnoseReport::Skip(const std::string& name, const std::string& why) {
  steps.push_back({name, "skip", "", why, "", ""});
}

std::string DiagnoseReport::ToText() const {
  std::ostringstream out;
  out << role << " " << (id.empty() ? "(no id yet)" : id) << " -> " << server << ", " << FormatRfc3339(at)
      << "\n";
  for (const auto& s : steps) {
    std::string head = s.result == "pass" ? "pass" : s.result == "fail" ? "FAIL" : "skip";
    out << "[" << head << "] " << s.name << (s.code.empty() ? "" : " " + s.code);
    if (!s.detail.empty()) out << ": " << s.detail;
    out << "\n";
    if (!s.hint.empty()) out << "       hint: " << s.hint << "\n";
    if (!s.manual.empty() && s.result != "skip") out << "       check by hand: " << s.manual << "\n";
  }
  const std::string failed = FirstFailure();
  if (failed.empty()) {
    out << "result: all steps passed\n";
  } else {
    for (const auto& s : steps) {
      if (s.result == "fail") {
        out << "result: failed at " << s.name << " (" << s.code << ")\n";
        break;
      }
    }
  }
  return out.str();
}

std::string DiagnoseReport::ToJson() const {
  nlohmann::ordered_json j;  // fields in the documented order
  j["role"] = role;
  j["id"] = id;
  j["server"] = server;
  j["at"] = at;
  j["ok"] = ok();
  j["failed_step"] = nullptr;
  j["code"] = nullptr;
  for (const auto& s : steps) {
    if (s.result == "fail") {
      j["failed_step"] = s.name;
      j["code"] = s.code;
      break;
    }
  }
  j["steps"] = nlohmann::ordered_json::array();
  for (const auto& s : steps) {
    j["steps"].push_back({{"name", s.name},
                          {"result", s.result},
                          {"code", s.code},
                          {"detail", s.detail},
                          {"hint", s.hint},
                          {"manual", s.manual}});
  }
  // Invalid UTF-8 (a detail quoting a peer's bytes) is replaced, never thrown.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace common
