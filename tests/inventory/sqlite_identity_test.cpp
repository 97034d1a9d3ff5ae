// Tests for the identity records of the SQLite store
// (inventory/src/sqlite_identity.cpp; contract in inventory/identity_store.h,
// rules in docs/identity.md). The CA is a fake that counts its calls, so a
// test can tell a stored decision from a new one. Rows are also read with the
// plain sqlite3 API, so that they do not depend on the code under test.
#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "inventory/identity_store.h"
#include "inventory/store.h"
#include "support/test_store.h"
#include "support/temp_dir.h"

namespace {

using common::Code;
using common::Sha256Hex;
using inventory::DeviceKeyRow;
using inventory::EnrollmentInput;
using inventory::EnrollSecret;
using inventory::IssuedCertRow;
using inventory::IssueFn;
using inventory::Store;

constexpr char kDev1[] = "11111111-1111-4111-8111-111111111111";
constexpr char kDev2[] = "22222222-2222-4222-8222-222222222222";
constexpr char kDev3[] = "33333333-3333-4333-8333-333333333333";
constexpr int64_t kNow = 1795363200;
constexpr int64_t kDay = 86400;

const std::string kKeyA = Sha256Hex("key a");
const std::string kKeyB = Sha256Hex("key b");
const std::string kKeyC = Sha256Hex("key c");
const std::string kIssuerOld = Sha256Hex("ca 1");
const std::string kIssuerNew = Sha256Hex("ca 2");

std::unique_ptr<Store> MustOpen(const std::string& path, bool read_only = false) {
  auto store = testing_support::OpenTestStore(path, read_only);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// One value from an independent read-only connection.
std::string QueryText(const std::string& db_path, const std::string& sql) {
  auto r = testing_support::QueryTestStore(db_path, sql);
  INFO(sql << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

int64_t CountRows(const std::string& db_path, const std::string& table) {
  return std::stoll(QueryText(db_path, "SELECT COUNT(*) FROM " + table));
}

// A CA that issues fake certificates and counts its calls; `fail` makes
// it refuse (as a CA whose key cannot be read would).
class FakeCa {
 public:
  explicit FakeCa(std::string serial_prefix = "a0", std::string issuer = kIssuerOld)
      : prefix_(std::move(serial_prefix)), issuer_(std::move(issuer)) {}

  IssueFn Fn(int64_t now = kNow) {
    return [this, now](const inventory::IssueRequest& r) -> common::StatusOr<inventory::Issued> {
      const int n = ++calls;
      if (!fail.ok()) return fail;
      inventory::Issued out;
      out.row.serial = prefix_ + std::to_string(n);
      out.row.kind = "device";
      out.row.subject = r.device_id;
      out.row.key_sha256 = r.key_sha256;
      out.row.issuer_sha256 = issuer_;
      out.row.issued_at = now;
      out.row.not_after = now + 90 * kDay;
      out.cert_pem = "-----BEGIN CERTIFICATE-----\n" + out.row.serial + "\n";
      return out;
    };
  }

  std::atomic<int> calls{0};
  common::Status fail;

 private:
  std::string prefix_;
  std::string issuer_;
};

// Adds a secret "<id>.<random>" and returns the whole secret text.
std::string AddSecret(Store& store, const std::string& id, int64_t max_uses = 0,
                      int64_t expires_at = 0) {
  const std::string secret = id + ".s3cr3t-" + id;
  EnrollSecret s;
  s.id = id;
  s.label = "test";
  s.created_at = kNow - kDay;
  s.expires_at = expires_at;
  s.max_uses = max_uses;
  common::Status st = store.AddEnrollSecret(s, Sha256Hex(secret));
  INFO(st.ToString());
  REQUIRE(st.ok());
  return secret;
}

EnrollmentInput Request(const std::string& device, const std::string& request,
                        const std::string& key, const std::string& secret,
                        const std::string& kind = "enroll") {
  EnrollmentInput in;
  in.request.device_id = device;
  in.request.request_id = request;
  in.request.kind = kind;
  in.request.host = "web-01";
  in.request.key_sha256 = key;
  in.request.via = "dmz-1";
  in.request.received_at = kNow - 60;
  in.secret = secret;
  return in;
}

inventory::Enrollment MustDecide(Store& store, const EnrollmentInput& in, FakeCa& ca,
                                 int64_t now = kNow) {
  auto e = store.DecideEnrollment(in, now, ca.Fn(now));
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  return *e;
}

int64_t SecretUses(Store& store, const std::string& id) {
  auto secrets = store.ListEnrollSecrets();
  REQUIRE(secrets.ok());
  for (const EnrollSecret& s : *secrets) {
    if (s.id == id) return s.uses;
  }
  FAIL("no secret " << id);
  return -1;
}

IssuedCertRow Cert(const std::string& serial, const std::string& kind, const std::string& subject,
                   const std::string& issuer, int64_t not_after) {
  return IssuedCertRow{serial, kind, subject, kKeyA, issuer, kNow - kDay, not_after, 0};
}

std::vector<std::string> Serials(const std::vector<IssuedCertRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.serial);
  return out;
}

}  // namespace

TEST_CASE("enrollment secrets are stored hashed, listed, and revoked once", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const std::string secret = AddSecret(*store, "k3r2", 5, kNow + kDay);

  CHECK(QueryText(path, "SELECT sha256 FROM enroll_secrets") == Sha256Hex(secret));
  CHECK(QueryText(path, "SELECT COUNT(*) FROM enroll_secrets WHERE sha256 LIKE '%s3cr3t%'") == "0");

  EnrollSecret again;
  again.id = "k3r2";
  CHECK(store->AddEnrollSecret(again, Sha256Hex("k3r2.other")).code() == Code::kAlreadyExists);
  again.id = "Bad.Id";
  CHECK(store->AddEnrollSecret(again, Sha256Hex("x")).code() == Code::kInvalidArgument);
  again.id = "ok";
  CHECK(store->AddEnrollSecret(again, "not a digest").code() == Code::kInvalidArgument);

  auto list = store->ListEnrollSecrets();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].id == "k3r2");
  CHECK((*list)[0].label == "test");
  CHECK((*list)[0].max_uses == 5);
  CHECK((*list)[0].expires_at == kNow + kDay);
  CHECK((*list)[0].uses == 0);
  CHECK((*list)[0].revoked_at == 0);

  CHECK(store->RevokeEnrollSecret("nope", kNow).code() == Code::kNotFound);
  REQUIRE(store->RevokeEnrollSecret("k3r2", kNow).ok());
  REQUIRE(store->RevokeEnrollSecret("k3r2", kNow + 100).ok());
  CHECK((*store->ListEnrollSecrets())[0].revoked_at == kNow);  // the first time stays
}

TEST_CASE("an enrollment with a good secret is issued with its certificate, key and one use",
          "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  const std::string secret = AddSecret(*store, "k3r2", 10);

  inventory::Enrollment e = MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca);
  CHECK(e.state == "issued");
  CHECK(e.reason.empty());
  CHECK(e.serial == "a01");
  CHECK(e.cert_pem.find("a01") != std::string::npos);
  CHECK(e.decided_at == kNow);
  CHECK(e.secret_id == "k3r2");
  CHECK(e.host == "web-01");
  CHECK(e.via == "dmz-1");
  CHECK(ca.calls == 1);

  auto got = store->GetEnrollment(kDev1, "r1");
  REQUIRE(got.ok());
  CHECK(got->state == "issued");
  CHECK(got->serial == "a01");
  CHECK(got->cert_pem == e.cert_pem);
  CHECK(got->received_at == kNow - 60);
  CHECK(store->GetEnrollment(kDev2, "r1").status().code() == Code::kNotFound);

  auto certs = store->ListCertificates();
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 1);
  CHECK((*certs)[0].subject == kDev1);
  CHECK((*certs)[0].kind == "device");
  CHECK((*certs)[0].key_sha256 == kKeyA);

  auto key = store->GetDeviceKey(kDev1);
  REQUIRE(key.ok());
  CHECK(key->key_sha256 == kKeyA);
  CHECK(key->enrolled_at == kNow);
  CHECK(key->revoked_at == 0);
  CHECK(key->clone_reports == 0);
  CHECK(store->GetDeviceKey(kDev2).status().code() == Code::kNotFound);

  CHECK(SecretUses(*store, "k3r2") == 1);
  // Identity records are not inventory: enrolling creates no device row.
  CHECK(CountRows(path, "devices") == 0);
  CHECK(store->ListDevices()->empty());
}

TEST_CASE("every refusal is stored with its reason and issues nothing", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  const std::string good = AddSecret(*store, "good", 0);
  const std::string revoked = AddSecret(*store, "revoked");
  REQUIRE(store->RevokeEnrollSecret("revoked", kNow - 10).ok());
  const std::string expired = AddSecret(*store, "expired", 0, kNow);  // expires exactly now
  const std::string once = AddSecret(*store, "once", 1);
  // kDev2 holds kKeyA; kDev3 is revoked; "once" is used up by kDev2.
  REQUIRE(MustDecide(*store, Request(kDev2, "setup", kKeyA, once), ca).state == "issued");
  REQUIRE(MustDecide(*store, Request(kDev3, "setup", kKeyA, good), ca).state == "issued");
  REQUIRE(store->RevokeSubject("device", kDev3, kNow).ok());
  const int calls = ca.calls;

  struct Case {
    const char* name;
    EnrollmentInput in;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"unknown id", Request(kDev1, "r-unknown", kKeyB, "nobody.s3cr3t-good"),
       "unknown enrollment secret"},
      {"known id, wrong secret", Request(kDev1, "r-wrong", kKeyB, "good.guess"),
       "unknown enrollment secret"},
      {"no dot", Request(kDev1, "r-nodot", kKeyB, "goods3cr3t"), "unknown enrollment secret"},
      {"revoked secret", Request(kDev1, "r-revoked", kKeyB, revoked), "enrollment secret revoked"},
      {"expired secret", Request(kDev1, "r-expired", kKeyB, expired), "enrollment secret expired"},
      {"used up", Request(kDev1, "r-once", kKeyB, once), "enrollment secret used up"},
      {"no secret outside approval mode", Request(kDev1, "r-none", kKeyB, ""),
       "an enrollment secret is required"},
      {"revoked device (before the secret is looked at)",
       Request(kDev3, "r-dev-revoked", kKeyA, "nobody.x"), "device revoked"},
      {"revoked device renewing", Request(kDev3, "r-renew-revoked", kKeyA, "", "renew"),
       "device revoked"},
      {"clone", Request(kDev2, "r-clone", kKeyB, good),
       "device id already enrolled with another key"},
      {"renewal before enrollment", Request(kDev1, "r-renew", kKeyB, "", "renew"),
       "device is not enrolled"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto e = store->DecideEnrollment(c.in, kNow, ca.Fn());
    INFO(e.status().ToString());
    REQUIRE(e.ok());
    CHECK(e->state == "refused");
    CHECK(e->reason == c.reason);
    CHECK(e->decided_at == kNow);
    CHECK(e->serial.empty());
    CHECK(e->cert_pem.empty());
    auto stored = store->GetEnrollment(c.in.request.device_id, c.in.request.request_id);
    REQUIRE(stored.ok());
    CHECK(stored->state == "refused");
    CHECK(stored->reason == c.reason);
  }
  CHECK(ca.calls == calls);
  CHECK(CountRows(path, "certificates") == 2);
  CHECK(CountRows(path, "device_keys") == 2);  // none for kDev1
  CHECK(CountRows(path, "devices") == 0);
  CHECK(SecretUses(*store, "good") == 1);
  CHECK(SecretUses(*store, "once") == 1);
  CHECK(SecretUses(*store, "expired") == 0);
  // The secret text itself is never stored, only the id it named.
  CHECK(QueryText(path, "SELECT secret_id FROM enrollments WHERE request_id = 'r-wrong'") ==
        "good");
  CHECK(QueryText(path, "SELECT secret_id FROM enrollments WHERE request_id = 'r-nodot'").empty());
  CHECK(QueryText(path, "SELECT secret_id FROM enrollments WHERE request_id = 'r-renew'").empty());

  auto refused = store->ListEnrollments("refused");
  REQUIRE(refused.ok());
  CHECK(refused->size() == cases.size());
  CHECK(store->ListEnrollments("issued")->size() == 2);
  CHECK(store->ListEnrollments("")->size() == cases.size() + 2);
  CHECK(store->ListEnrollments("bogus").status().code() == Code::kInvalidArgument);
}

TEST_CASE("a malformed request is InvalidArgument and records nothing", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  const std::string secret = AddSecret(*store, "k3r2");
  CHECK(store->DecideEnrollment(Request("", "r1", kKeyA, secret), kNow, ca.Fn()).status().code() ==
        Code::kInvalidArgument);
  CHECK(store->DecideEnrollment(Request(kDev1, "", kKeyA, secret), kNow, ca.Fn()).status().code() ==
        Code::kInvalidArgument);
  CHECK(store->DecideEnrollment(Request(kDev1, "r1", "abc", secret), kNow, ca.Fn())
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(store->DecideEnrollment(Request(kDev1, "r1", kKeyA, secret, "upgrade"), kNow, ca.Fn())
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(CountRows(path, "enrollments") == 0);
  CHECK(ca.calls == 0);
}

TEST_CASE("a redelivered request gets its stored decision and issues nothing", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  const std::string secret = AddSecret(*store, "k3r2", 2);

  inventory::Enrollment first = MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca);
  REQUIRE(first.state == "issued");
  // The same request again, even later, with another key and no secret.
  EnrollmentInput again = Request(kDev1, "r1", kKeyB, "");
  again.approval_mode = true;
  inventory::Enrollment second = MustDecide(*store, again, ca, kNow + 500);
  CHECK(second.state == "issued");
  CHECK(second.serial == first.serial);
  CHECK(second.cert_pem == first.cert_pem);
  CHECK(second.key_sha256 == kKeyA);
  CHECK(second.decided_at == kNow);
  CHECK(ca.calls == 1);
  CHECK(SecretUses(*store, "k3r2") == 1);

  // A refusal stays a refusal, even once the secret would be accepted.
  inventory::Enrollment refused = MustDecide(*store, Request(kDev2, "r2", kKeyB, "k3r2.wrong"), ca);
  REQUIRE(refused.state == "refused");
  inventory::Enrollment refused_again = MustDecide(*store, Request(kDev2, "r2", kKeyB, secret), ca);
  CHECK(refused_again.state == "refused");
  CHECK(refused_again.reason == "unknown enrollment secret");

  // A pending request stays pending.
  EnrollmentInput wait = Request(kDev3, "r3", kKeyC, "");
  wait.approval_mode = true;
  REQUIRE(MustDecide(*store, wait, ca).state == "pending");
  CHECK(MustDecide(*store, Request(kDev3, "r3", kKeyC, secret), ca).state == "pending");

  CHECK(ca.calls == 1);
  CHECK(SecretUses(*store, "k3r2") == 1);
  CHECK(CountRows(path, "enrollments") == 3);
  CHECK(CountRows(path, "certificates") == 1);
}

TEST_CASE("approval mode: a request without a secret waits, then is approved or denied",
          "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;

  EnrollmentInput a = Request(kDev1, "ra", kKeyA, "");
  a.approval_mode = true;
  EnrollmentInput b = Request(kDev2, "rb", kKeyB, "");
  b.approval_mode = true;
  b.request.received_at = kNow - 30;  // newer than a
  inventory::Enrollment pa = MustDecide(*store, a, ca);
  CHECK(pa.state == "pending");
  CHECK(pa.decided_at == 0);
  REQUIRE(MustDecide(*store, b, ca).state == "pending");
  CHECK(ca.calls == 0);
  CHECK(store->GetEnrollment(kDev1, "ra")->state == "pending");
  auto pending = store->ListEnrollments("pending");
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 2);
  CHECK((*pending)[0].request_id == "rb");  // newest first
  CHECK((*pending)[1].request_id == "ra");
  CHECK(store->GetDeviceKey(kDev1).status().code() == Code::kNotFound);

  auto approved = store->ApproveEnrollment("ra", kNow + 100, ca.Fn(kNow + 100));
  INFO(approved.status().ToString());
  REQUIRE(approved.ok());
  CHECK(approved->state == "issued");
  CHECK(approved->device_id == kDev1);
  CHECK(approved->decided_at == kNow + 100);
  CHECK_FALSE(approved->serial.empty());
  CHECK(ca.calls == 1);
  CHECK(store->GetEnrollment(kDev1, "ra")->cert_pem == approved->cert_pem);
  CHECK(store->GetDeviceKey(kDev1)->key_sha256 == kKeyA);

  auto denied = store->DenyEnrollment("rb", kNow + 200);
  REQUIRE(denied.ok());
  CHECK(denied->state == "denied");
  CHECK(denied->reason == "denied by an administrator");
  CHECK(store->GetEnrollment(kDev2, "rb")->state == "denied");

  // A decided request stays decided.
  CHECK(store->ApproveEnrollment("rb", kNow + 300, ca.Fn()).status().code() ==
        Code::kFailedPrecondition);
  CHECK(store->DenyEnrollment("rb", kNow + 300).status().code() == Code::kFailedPrecondition);
  CHECK(store->ApproveEnrollment("ra", kNow + 300, ca.Fn()).status().code() ==
        Code::kFailedPrecondition);
  CHECK(store->DenyEnrollment("ra", kNow + 300).status().code() == Code::kFailedPrecondition);
  CHECK(store->GetEnrollment(kDev2, "rb")->state == "denied");
  CHECK(store->GetEnrollment(kDev1, "ra")->state == "issued");
  CHECK(store->ApproveEnrollment("nope", kNow, ca.Fn()).status().code() == Code::kNotFound);
  CHECK(store->DenyEnrollment("nope", kNow).status().code() == Code::kNotFound);
  CHECK(ca.calls == 1);
  CHECK(CountRows(path, "certificates") == 1);
  // A wrong secret is refused, not queued, in approval mode too.
  EnrollmentInput wrong = Request(kDev3, "rc", kKeyC, "k3r2.guess");
  wrong.approval_mode = true;
  CHECK(MustDecide(*store, wrong, ca).state == "refused");
}

TEST_CASE("approval re-checks revocation and clones at approval time", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  const std::string secret = AddSecret(*store, "k3r2");

  // kDev1 waits with kKeyB; meanwhile kKeyA enrolls kDev1 with a secret.
  EnrollmentInput waiting = Request(kDev1, "r-wait", kKeyB, "");
  waiting.approval_mode = true;
  REQUIRE(MustDecide(*store, waiting, ca).state == "pending");
  REQUIRE(MustDecide(*store, Request(kDev1, "r-first", kKeyA, secret), ca).state == "issued");
  auto clone = store->ApproveEnrollment("r-wait", kNow + 10, ca.Fn());
  REQUIRE(clone.ok());
  CHECK(clone->state == "refused");
  CHECK(clone->reason == "device id already enrolled with another key");
  CHECK(store->GetEnrollment(kDev1, "r-wait")->state == "refused");
  CHECK(store->GetDeviceKey(kDev1)->clone_reports == 1);
  CHECK(store->GetDeviceKey(kDev1)->key_sha256 == kKeyA);

  // kDev2 enrolled; a request with the same key waits; kDev2 is revoked.
  REQUIRE(MustDecide(*store, Request(kDev2, "r-first", kKeyC, secret), ca).state == "issued");
  EnrollmentInput same_key = Request(kDev2, "r-again", kKeyC, "");
  same_key.approval_mode = true;
  REQUIRE(MustDecide(*store, same_key, ca).state == "pending");
  REQUIRE(store->RevokeSubject("device", kDev2, kNow + 20).ok());
  auto revoked = store->ApproveEnrollment("r-again", kNow + 30, ca.Fn());
  REQUIRE(revoked.ok());
  CHECK(revoked->state == "refused");
  CHECK(revoked->reason == "device revoked");
  CHECK(ca.calls == 2);
}

TEST_CASE("approve and deny refuse a request id that two devices used", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  EnrollmentInput a = Request(kDev1, "same", kKeyA, "");
  a.approval_mode = true;
  EnrollmentInput b = Request(kDev2, "same", kKeyB, "");
  b.approval_mode = true;
  REQUIRE(MustDecide(*store, a, ca).state == "pending");
  REQUIRE(MustDecide(*store, b, ca).state == "pending");
  for (auto st : {store->ApproveEnrollment("same", kNow, ca.Fn()).status(),
                  store->DenyEnrollment("same", kNow).status()}) {
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find("ambiguous request id") != std::string::npos);
  }
  CHECK(ca.calls == 0);
  CHECK(store->ListEnrollments("pending")->size() == 2);
}

TEST_CASE("a secret's last use goes to exactly one of concurrent decisions", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  // Two centrals sharing one file: two stores, so two writer connections
  // and two writer mutexes; only the store's transaction keeps them apart.
  auto central1 = MustOpen(path);
  auto central2 = MustOpen(path);
  const std::string secret = AddSecret(*central1, "once", 1);
  FakeCa ca1("c1"), ca2("c2");
  const std::vector<std::string> devices = {kDev1, kDev2, kDev3,
                                            "44444444-4444-4444-8444-444444444444"};
  std::vector<common::StatusOr<inventory::Enrollment>> results(
      devices.size(), common::Status(Code::kInternal, "not run"));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < devices.size(); ++i) {
    threads.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      Store& store = i % 2 == 0 ? *central1 : *central2;
      FakeCa& ca = i % 2 == 0 ? ca1 : ca2;
      results[i] = store.DecideEnrollment(Request(devices[i], "r", kKeyA, secret), kNow, ca.Fn());
    });
  }
  go = true;
  for (auto& t : threads) t.join();

  int issued = 0, used_up = 0;
  for (const auto& r : results) {
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    if (r->state == "issued") ++issued;
    if (r->state == "refused" && r->reason == "enrollment secret used up") ++used_up;
  }
  CHECK(issued == 1);
  CHECK(used_up == 3);
  CHECK(ca1.calls + ca2.calls == 1);
  CHECK(SecretUses(*central1, "once") == 1);
  CHECK(CountRows(path, "certificates") == 1);
  CHECK(CountRows(path, "device_keys") == 1);
}

TEST_CASE("a CA error leaves the request undecided and nothing recorded", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  ca.fail = common::Unavailable("ca.key: cannot read");
  const std::string secret = AddSecret(*store, "k3r2", 1);

  auto e = store->DecideEnrollment(Request(kDev1, "r1", kKeyA, secret), kNow, ca.Fn());
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().code() == Code::kUnavailable);  // the CA's code: the caller retries
  CHECK(e.status().message().find("ca.key") != std::string::npos);
  CHECK(ca.calls == 1);
  CHECK(store->GetEnrollment(kDev1, "r1").status().code() == Code::kNotFound);
  CHECK(SecretUses(*store, "k3r2") == 0);
  CHECK(store->GetDeviceKey(kDev1).status().code() == Code::kNotFound);
  CHECK(CountRows(path, "certificates") == 0);
  CHECK(CountRows(path, "enrollments") == 0);

  // The same for an approval: the request stays pending.
  EnrollmentInput wait = Request(kDev2, "r2", kKeyB, "");
  wait.approval_mode = true;
  REQUIRE(MustDecide(*store, wait, ca).state == "pending");
  CHECK(store->ApproveEnrollment("r2", kNow, ca.Fn()).status().code() == Code::kUnavailable);
  CHECK(store->GetEnrollment(kDev2, "r2")->state == "pending");

  // Once the CA works, the redelivered request is decided normally.
  ca.fail = common::Status::Ok();
  CHECK(MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca).state == "issued");
  CHECK(SecretUses(*store, "k3r2") == 1);
  CHECK(store->ApproveEnrollment("r2", kNow, ca.Fn())->state == "issued");
}

TEST_CASE("a CA row that does not match the request is Internal and records nothing",
          "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const std::string secret = AddSecret(*store, "k3r2");
  IssueFn wrong_subject = [](const inventory::IssueRequest& r) {
    inventory::Issued out;
    out.row = IssuedCertRow{"ff01", "device", kDev2, r.key_sha256, kIssuerOld, kNow, kNow + kDay, 0};
    return common::StatusOr<inventory::Issued>(out);
  };
  auto e = store->DecideEnrollment(Request(kDev1, "r1", kKeyA, secret), kNow, wrong_subject);
  CHECK(e.status().code() == Code::kInternal);
  CHECK(CountRows(path, "certificates") == 0);
  CHECK(CountRows(path, "enrollments") == 0);
}

TEST_CASE("a clone is refused, reported on the device, and the report is committed",
          "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  FakeCa ca;
  {
    auto store = MustOpen(path);
    const std::string secret = AddSecret(*store, "k3r2");
    REQUIRE(MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca).state == "issued");
    inventory::Enrollment c = MustDecide(*store, Request(kDev1, "r2", kKeyB, secret), ca, kNow + 5);
    CHECK(c.state == "refused");
    CHECK(c.reason == "device id already enrolled with another key");
    // In approval mode, without a secret, too: refused (and reported) at
    // once rather than queued for an administrator.
    EnrollmentInput anon = Request(kDev1, "r3", kKeyC, "");
    anon.approval_mode = true;
    inventory::Enrollment c2 = MustDecide(*store, anon, ca, kNow + 9);
    CHECK(c2.state == "refused");
    CHECK(c2.reason == "device id already enrolled with another key");
    CHECK(ca.calls == 1);
    CHECK(SecretUses(*store, "k3r2") == 1);
  }
  // A fresh open sees the reports: they were committed with the refusals.
  auto store = MustOpen(path, /*read_only=*/true);
  auto key = store->GetDeviceKey(kDev1);
  REQUIRE(key.ok());
  CHECK(key->key_sha256 == kKeyA);  // the genuine device keeps its key
  CHECK(key->clone_reports == 2);
  CHECK(key->clone_last_at == kNow + 9);
  CHECK(key->clone_key_sha256 == kKeyC);
  auto clones = store->ListClones();
  REQUIRE(clones.ok());
  REQUIRE(clones->size() == 1);
  CHECK((*clones)[0].device_id == kDev1);
  CHECK(CountRows(path, "certificates") == 1);
}

TEST_CASE("the same key may enroll again, a renewal rotates the key", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  const std::string secret = AddSecret(*store, "k3r2");
  REQUIRE(MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca).state == "issued");
  CHECK(MustDecide(*store, Request(kDev1, "r2", kKeyA, secret), ca, kNow + 10).state == "issued");
  CHECK(SecretUses(*store, "k3r2") == 2);

  inventory::Enrollment r =
      MustDecide(*store, Request(kDev1, "r3", kKeyB, "", "renew"), ca, kNow + 20);
  CHECK(r.state == "issued");
  CHECK(r.secret_id.empty());
  CHECK(SecretUses(*store, "k3r2") == 2);  // a renewal uses no secret
  auto key = store->GetDeviceKey(kDev1);
  CHECK(key->key_sha256 == kKeyB);
  CHECK(key->enrolled_at == kNow);  // the first enrollment
  CHECK(key->clone_reports == 0);
  CHECK(ca.calls == 3);
  CHECK(store->ListClones()->empty());
}

TEST_CASE("a revoked device can neither renew nor enroll again", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  FakeCa ca;
  const std::string secret = AddSecret(*store, "k3r2");
  REQUIRE(MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca).state == "issued");
  REQUIRE(MustDecide(*store, Request(kDev1, "r2", kKeyB, "", "renew"), ca).state == "issued");
  REQUIRE(MustDecide(*store, Request(kDev2, "r1", kKeyC, secret), ca).state == "issued");

  auto n = store->RevokeSubject("device", kDev1, kNow + 100);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK(store->GetDeviceKey(kDev1)->revoked_at == kNow + 100);
  auto certs = store->ListCertificates();
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 3);
  for (const IssuedCertRow& c : *certs) {
    INFO(c.serial);
    CHECK(c.revoked_at == (c.subject == kDev1 ? kNow + 100 : 0));
  }
  // Again: nothing left to revoke, and the first time stays.
  auto again = store->RevokeSubject("device", kDev1, kNow + 200);
  REQUIRE(again.ok());
  CHECK(*again == 0);
  CHECK(store->GetDeviceKey(kDev1)->revoked_at == kNow + 100);

  const int calls = ca.calls;
  inventory::Enrollment renew =
      MustDecide(*store, Request(kDev1, "r3", kKeyB, "", "renew"), ca, kNow + 300);
  CHECK(renew.state == "refused");
  CHECK(renew.reason == "device revoked");
  inventory::Enrollment enroll =
      MustDecide(*store, Request(kDev1, "r4", kKeyC, secret), ca, kNow + 300);
  CHECK(enroll.state == "refused");
  CHECK(enroll.reason == "device revoked");
  CHECK(ca.calls == calls);
  CHECK(store->GetDeviceKey(kDev1)->clone_reports == 0);  // revoked, not a clone

  CHECK(store->RevokeSubject("device", kDev3, kNow).status().code() == Code::kNotFound);
  CHECK(store->RevokeSubject("beacon", kDev2, kNow).status().code() == Code::kNotFound);
  CHECK(store->RevokeSubject("printer", kDev2, kNow).status().code() == Code::kInvalidArgument);
  // Beacons: their certificates only.
  REQUIRE(store->RecordCertificate(Cert("b1", "beacon", "dmz-1", kIssuerOld, kNow + kDay)).ok());
  auto b = store->RevokeSubject("beacon", "dmz-1", kNow);
  REQUIRE(b.ok());
  CHECK(*b == 1);
  CHECK(store->GetDeviceKey("dmz-1").status().code() == Code::kNotFound);
}

TEST_CASE("recorded certificates: duplicates and malformed rows are refused", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  REQUIRE(store->RecordCertificate(Cert("b1", "beacon", "dmz-1", kIssuerOld, kNow + kDay)).ok());
  CHECK(store->RecordCertificate(Cert("b1", "beacon", "dmz-2", kIssuerOld, kNow + kDay)).code() ==
        Code::kAlreadyExists);
  CHECK(store->RecordCertificate(Cert("", "beacon", "dmz-2", kIssuerOld, kNow)).code() ==
        Code::kInvalidArgument);
  CHECK(store->RecordCertificate(Cert("b2", "router", "dmz-2", kIssuerOld, kNow)).code() ==
        Code::kInvalidArgument);
  CHECK(store->RecordCertificate(Cert("b2", "beacon", "dmz-2", "ca", kNow)).code() ==
        Code::kInvalidArgument);
  auto certs = store->ListCertificates();
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 1);
  CHECK((*certs)[0].subject == "dmz-1");
  CHECK(CountRows(path, "device_keys") == 0);
}

TEST_CASE("RevokedCertificates lists one issuer's revoked, unexpired certificates",
          "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  for (const IssuedCertRow& c : {
           Cert("01", "beacon", "revoked-live", kIssuerOld, kNow + kDay),
           Cert("02", "beacon", "revoked-expired", kIssuerOld, kNow),  // not_after == now
           Cert("03", "beacon", "live", kIssuerOld, kNow + kDay),
           Cert("04", "beacon", "other-issuer", kIssuerNew, kNow + kDay),
       }) {
    REQUIRE(store->RecordCertificate(c).ok());
  }
  for (const char* subject : {"revoked-live", "revoked-expired", "other-issuer"}) {
    REQUIRE(store->RevokeSubject("beacon", subject, kNow - 10).ok());
  }
  auto old_crl = store->RevokedCertificates(kIssuerOld, kNow);
  REQUIRE(old_crl.ok());
  CHECK(Serials(*old_crl) == std::vector<std::string>{"01"});
  CHECK((*old_crl)[0].revoked_at == kNow - 10);
  CHECK(Serials(*store->RevokedCertificates(kIssuerNew, kNow)) == std::vector<std::string>{"04"});
  // Earlier, the expired one was still live and belongs on the list.
  CHECK(Serials(*store->RevokedCertificates(kIssuerOld, kNow - 1)) ==
        std::vector<std::string>{"01", "02"});
  CHECK(store->RevokedCertificates(Sha256Hex("unknown"), kNow)->empty());
}

TEST_CASE("OnlyFromIssuer lists who would be cut off by retiring a CA", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  auto store = MustOpen(path);
  const int64_t live = kNow + kDay;
  for (const IssuedCertRow& c : {
           Cert("01", "device", "only-old", kIssuerOld, live),
           Cert("02", "device", "both", kIssuerOld, live),
           Cert("03", "device", "both", kIssuerNew, live),
           Cert("04", "device", "new-revoked", kIssuerOld, live),
           Cert("05", "device", "new-revoked", kIssuerNew, live),
           Cert("06", "device", "new-expired", kIssuerOld, live),
           Cert("07", "device", "new-expired", kIssuerNew, kNow - 1),
           Cert("08", "device", "old-expired", kIssuerOld, kNow),
           Cert("09", "device", "old-revoked", kIssuerOld, live),
           // Same name, other kind: a beacon's new certificate does not cover a device.
           Cert("10", "device", "shared-name", kIssuerOld, live),
           Cert("11", "beacon", "shared-name", kIssuerNew, live),
       }) {
    REQUIRE(store->RecordCertificate(c).ok());
  }
  REQUIRE(store->RevokeSubject("device", "old-revoked", kNow - 5).ok());
  // Revoke only the new certificate of "new-revoked" (as a direct update:
  // RevokeSubject would revoke both).
  REQUIRE(testing_support::ExecTestStore(path, "UPDATE certificates SET revoked_at = 1 WHERE serial = '05'")
              .ok());
  auto cut = store->OnlyFromIssuer(kIssuerOld, kNow);
  REQUIRE(cut.ok());
  CHECK(Serials(*cut) == std::vector<std::string>{"06", "04", "01", "10"});
  // Of the new CA's live certificates, only "both" has another to fall back on.
  CHECK(Serials(*store->OnlyFromIssuer(kIssuerNew, kNow)) == std::vector<std::string>{"11"});
}

namespace {

// The schema exactly as version 3 of the store left it (a frozen copy: what
// the version 4 migration has to upgrade), with a few rows.
constexpr char kSchemaV3Sql[] = R"sql(
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY, hostname TEXT NOT NULL DEFAULT '', os TEXT NOT NULL DEFAULT '',
  last_seen INTEGER NOT NULL DEFAULT 0, via TEXT NOT NULL DEFAULT '',
  checkin_at INTEGER NOT NULL DEFAULT 0, client_version TEXT NOT NULL DEFAULT '',
  policy_revision INTEGER NOT NULL DEFAULT 0, outbox_depth INTEGER NOT NULL DEFAULT 0,
  peer TEXT NOT NULL DEFAULT '', inventory_at INTEGER NOT NULL DEFAULT 0, inventory_upload TEXT,
  inventory_sequence INTEGER NOT NULL DEFAULT 0);
CREATE INDEX devices_by_hostname ON devices (hostname, device_id);
CREATE TABLE os (
  device_id TEXT PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
  name TEXT NOT NULL, os_id TEXT NOT NULL, version TEXT NOT NULL, version_id TEXT NOT NULL,
  pretty_name TEXT NOT NULL, kernel TEXT NOT NULL, arch TEXT NOT NULL, hostname TEXT NOT NULL);
CREATE TABLE hardware (
  device_id TEXT PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
  vendor TEXT NOT NULL, model TEXT NOT NULL, serial TEXT NOT NULL, cpu_model TEXT NOT NULL,
  cpu_cores INTEGER NOT NULL, memory_bytes INTEGER NOT NULL);
CREATE TABLE disks (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  PRIMARY KEY (device_id, position));
CREATE TABLE interfaces (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, mac TEXT NOT NULL,
  PRIMARY KEY (device_id, position));
CREATE TABLE addresses (
  device_id TEXT NOT NULL, interface_position INTEGER NOT NULL, position INTEGER NOT NULL,
  address TEXT NOT NULL, PRIMARY KEY (device_id, interface_position, position),
  FOREIGN KEY (device_id, interface_position)
    REFERENCES interfaces (device_id, position) ON DELETE CASCADE);
CREATE TABLE packages (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL,
  source TEXT NOT NULL, PRIMARY KEY (device_id, position));
CREATE INDEX packages_by_name ON packages (name);
CREATE TABLE files (
  device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  position INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, modified INTEGER NOT NULL,
  sha256 TEXT NOT NULL, PRIMARY KEY (device_id, position));
CREATE TABLE uploads (
  device_id TEXT NOT NULL REFERENCES devices (device_id), upload_id TEXT NOT NULL,
  kind TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, received_at INTEGER NOT NULL,
  via TEXT NOT NULL, imported_at INTEGER NOT NULL, PRIMARY KEY (device_id, upload_id));
CREATE TABLE blobs (
  device_id TEXT NOT NULL, upload_id TEXT NOT NULL, body BLOB NOT NULL,
  PRIMARY KEY (device_id, upload_id),
  FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id));
CREATE TABLE usage (
  device_id TEXT NOT NULL, upload_id TEXT NOT NULL, program TEXT NOT NULL,
  samples INTEGER NOT NULL, seconds INTEGER NOT NULL, first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL, PRIMARY KEY (device_id, upload_id, program),
  FOREIGN KEY (device_id, upload_id) REFERENCES uploads (device_id, upload_id));
CREATE INDEX uploads_by_device ON uploads (device_id, received_at);

INSERT INTO devices (device_id, hostname, os, last_seen, via, inventory_at, inventory_upload,
                     inventory_sequence) VALUES
  ('11111111-1111-4111-8111-111111111111', 'host-a', 'Debian GNU/Linux 12 (bookworm)', 1795363310,
   'dmz-1', 1795363200, 'u-inv', 7);
INSERT INTO uploads VALUES
  ('11111111-1111-4111-8111-111111111111', 'u-inv', 'inventory', 'aa', 1234, 1795363300, 'dmz-1', 1795363301),
  ('11111111-1111-4111-8111-111111111111', 'u-log', 'logs', 'bb', 2, 1795363310, 'dmz-1', 1795363311);
INSERT INTO blobs VALUES ('11111111-1111-4111-8111-111111111111', 'u-log', X'00FF');
INSERT INTO packages VALUES
  ('11111111-1111-4111-8111-111111111111', 0, 'bash', '5.2-2', 'amd64', 'dpkg');
PRAGMA user_version = 3;
)sql";

}  // namespace

TEST_CASE("a version 3 store is upgraded through version 4 with every row kept", "[identity][sqlite_only]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, kSchemaV3Sql, nullptr, nullptr, &err);
    INFO((err != nullptr ? err : ""));
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }
  // Only a writer migrates.
  auto early = inventory::OpenSqliteStore(path, /*read_only=*/true);
  REQUIRE_FALSE(early.ok());
  CHECK(early.status().code() == Code::kFailedPrecondition);

  auto store = MustOpen(path);
  CHECK(QueryText(path, "PRAGMA user_version") == "9");
  CHECK(CountRows(path, "devices") == 1);
  CHECK(CountRows(path, "uploads") == 2);
  CHECK(QueryText(path, "SELECT hex(body) FROM blobs") == "00FF");
  auto dev = store->GetDevice(kDev1);
  REQUIRE(dev.ok());
  CHECK(dev->hostname == "host-a");
  CHECK(dev->inventory_sequence == 7);
  CHECK(dev->packages == 1);
  CHECK(*store->HasUpload(kDev1, "u-log"));
  for (const char* table : {"enroll_secrets", "enrollments", "certificates", "device_keys"}) {
    INFO(table);
    CHECK(CountRows(path, table) == 0);
  }
  CHECK(QueryText(path,
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                  "('enrollments_by_request', 'certificates_by_subject', 'certificates_by_issuer')") ==
        "3");

  // The new tables work, and the enrolled device is still the one inventory row.
  FakeCa ca;
  const std::string secret = AddSecret(*store, "k3r2");
  CHECK(MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca).state == "issued");
  CHECK(CountRows(path, "devices") == 1);
  store.reset();
  auto reader = MustOpen(path, /*read_only=*/true);
  CHECK(reader->GetEnrollment(kDev1, "r1")->state == "issued");
  CHECK(reader->GetDevice(kDev1)->hostname == "host-a");
}

TEST_CASE("a read-only store answers identity queries and refuses every write", "[identity]") {
  testing_support::TempDir dir("identity");
  const std::string path = dir.path + "/store.sqlite";
  FakeCa ca;
  {
    auto store = MustOpen(path);
    const std::string secret = AddSecret(*store, "k3r2");
    REQUIRE(MustDecide(*store, Request(kDev1, "r1", kKeyA, secret), ca).state == "issued");
    EnrollmentInput wait = Request(kDev2, "r2", kKeyB, "");
    wait.approval_mode = true;
    REQUIRE(MustDecide(*store, wait, ca).state == "pending");
  }
  auto ro = MustOpen(path, /*read_only=*/true);
  const int calls = ca.calls;
  CHECK(ro->AddEnrollSecret(EnrollSecret{"new", "", kNow, 0, 0, 0, 0}, Sha256Hex("new.x")).code() ==
        Code::kFailedPrecondition);
  CHECK(ro->RevokeEnrollSecret("k3r2", kNow).code() == Code::kFailedPrecondition);
  CHECK(ro->DecideEnrollment(Request(kDev3, "r3", kKeyC, "k3r2.x"), kNow, ca.Fn()).status().code() ==
        Code::kFailedPrecondition);
  CHECK(ro->ApproveEnrollment("r2", kNow, ca.Fn()).status().code() == Code::kFailedPrecondition);
  CHECK(ro->DenyEnrollment("r2", kNow).status().code() == Code::kFailedPrecondition);
  CHECK(ro->RecordCertificate(Cert("b1", "beacon", "dmz-1", kIssuerOld, kNow + kDay)).code() ==
        Code::kFailedPrecondition);
  CHECK(ro->RevokeSubject("device", kDev1, kNow).status().code() == Code::kFailedPrecondition);
  CHECK(ca.calls == calls);

  CHECK(ro->ListEnrollSecrets()->size() == 1);
  CHECK(ro->GetEnrollment(kDev1, "r1")->state == "issued");
  CHECK(ro->ListEnrollments("pending")->size() == 1);
  CHECK(ro->ListCertificates()->size() == 1);
  CHECK(ro->GetDeviceKey(kDev1)->revoked_at == 0);
  CHECK(ro->RevokedCertificates(kIssuerOld, kNow)->empty());
  CHECK(ro->OnlyFromIssuer(kIssuerOld, kNow)->size() == 1);
  CHECK(ro->ListClones()->empty());
}
