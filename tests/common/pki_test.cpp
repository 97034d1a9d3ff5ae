// common/pki.h: keys, requests, the CA, what it issues, and its rollover.
// The trust bundle is in pki_trust_test.cpp.
#include "common/pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "common/fs.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "support/temp_dir.h"
#include "support/x509_verify.h"

namespace {

using namespace std::chrono_literals;
using common::Code;
using common::PeerKind;
using common::pki::CertAuthority;
using testing_support::VerifyChain;

constexpr auto kDay = std::chrono::seconds(86400);

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::unique_ptr<CertAuthority> MakeCa(const std::string& dir, const std::string& name = "Estate CA 1",
                                      std::chrono::seconds validity = 3650 * kDay) {
  REQUIRE(CertAuthority::Init(dir, name, validity).ok());
  auto ca = CertAuthority::Load(dir);
  INFO(ca.status().ToString());
  REQUIRE(ca.ok());
  return std::move(ca).value();
}

// A key and its request, parsed as the CA would.
struct Enrollee {
  std::string key_pem;
  common::pki::CsrInfo csr;
};
Enrollee NewEnrollee() {
  Enrollee e;
  auto key = common::pki::NewKeyPem();
  REQUIRE(key.ok());
  e.key_pem = *key;
  auto csr = common::pki::MakeCsr(e.key_pem, "enrollee");
  REQUIRE(csr.ok());
  auto info = common::pki::ParseCsr(*csr);
  REQUIRE(info.ok());
  e.csr = *info;
  return e;
}

// A request for a key OpenSSL makes with `alg` and `param` (a curve or RSA bits).
template <typename P>
std::string ForeignCsr(const char* alg, P param) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, alg, param);
  REQUIRE(key != nullptr);
  X509_REQ* req = X509_REQ_new();
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("x"), -1, -1, 0);
  X509_REQ_set_pubkey(req, key);
  REQUIRE(X509_REQ_sign(req, key, EVP_sha256()) > 0);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return pem;
}

// The request with one byte of its signature (the last of the DER) flipped.
std::string Tampered(const std::string& csr_pem) {
  BIO* in = BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size()));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* der = nullptr;
  long len = 0;
  REQUIRE(PEM_read_bio(in, &name, &header, &der, &len) == 1);
  der[len - 1] ^= 0x01;
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio(out, name, header, der, len);
  char* data = nullptr;
  long out_len = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(out_len));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(der);
  BIO_free(in);
  BIO_free(out);
  return pem;
}

int FileMode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 0777);
}

}  // namespace

TEST_CASE("pki: a key's request is parsed back to the same key", "[common][pki]") {
  Enrollee e = NewEnrollee();
  auto digest = common::pki::KeySha256(e.key_pem);
  REQUIRE(digest.ok());
  CHECK(common::IsHexDigest(*digest));
  CHECK(e.csr.key_sha256 == *digest);
  CHECK(common::Sha256Hex(e.csr.public_key_der) == *digest);
  CHECK(common::pki::KeySha256("not a key").status().code() == Code::kInvalidArgument);
}

TEST_CASE("pki: ParseCsr refuses what is not one well-signed P-256 request", "[common][pki]") {
  Enrollee e = NewEnrollee();
  auto csr = common::pki::MakeCsr(e.key_pem, "enrollee");
  REQUIRE(csr.ok());
  CHECK(common::pki::ParseCsr("\r\n " + *csr + "\n\n\t").ok());  // whitespace around is fine

  auto refused = [](const std::string& pem, const std::string& why) {
    INFO(pem.substr(0, 200));
    auto r = common::pki::ParseCsr(pem);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("enrollment request: ") && Catch::Contains(why));
  };
  refused(Tampered(*csr), "signature does not verify");
  refused(ForeignCsr("EC", "P-384"), "not an ECDSA P-256 key");
  refused(ForeignCsr("RSA", size_t{2048}), "not an ECDSA P-256 key");
  refused(*csr + std::string(common::pki::kMaxCsrBytes, ' '), "more than the 8192 allowed");
  refused("", "no PEM block");
  refused("hello, I am a certificate request", "text outside a PEM block");
  refused(*csr + "trailing", "text outside a PEM block");
  refused(*csr + *csr, "more than 1 PEM blocks");
  refused(e.key_pem, "not a CERTIFICATE REQUEST");
  std::string broken = *csr;
  broken.replace(broken.find('\n') + 5, 4, "!!!!");
  refused(broken, "not valid base64");
  std::string unterminated = csr->substr(0, csr->find("-----END"));
  refused(unterminated, "no END line");
}

TEST_CASE("pki: Init makes a CA once, Load reads it back", "[common][pki]") {
  testing_support::TempDir dir("pki");
  const std::string ca_dir = dir.path + "/ca";
  CHECK(CertAuthority::Load(ca_dir).status().code() == Code::kNotFound);
  REQUIRE(CertAuthority::Init(ca_dir, "Estate CA 1", 365 * kDay).ok());
  CHECK(FileMode(ca_dir + "/ca.key") == 0600);
  common::Status again = CertAuthority::Init(ca_dir, "Estate CA 1", 365 * kDay);
  CHECK(again.code() == Code::kAlreadyExists);
  CHECK(CertAuthority::Init(dir.path + "/x", "", 365 * kDay).code() == Code::kInvalidArgument);
  CHECK(CertAuthority::Init(dir.path + "/y", "CA", 0s).code() == Code::kInvalidArgument);

  auto ca = CertAuthority::Load(ca_dir);
  REQUIRE(ca.ok());
  CHECK_FALSE((*ca)->rolling_over());
  CHECK((*ca)->old_cert_pem().empty());
  CHECK((*ca)->cross_pem().empty());
  CHECK(std::abs((*ca)->not_after() - (Now() + 365 * 86400)) < 60);

  auto certs = testing_support::ReadCertsPem((*ca)->cert_pem());
  REQUIRE(certs.size() == 1);
  X509* cert = certs[0].get();
  CHECK(X509_check_ca(cert) == 1);
  CHECK(X509_get_pathlen(cert) == 1);
  CHECK((X509_get_key_usage(cert) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(X509_get0_subject_key_id(cert) != nullptr);
  CHECK(X509_verify(cert, X509_get0_pubkey(cert)) == 1);
  // The CA verifies as its own trust anchor.
  CHECK(VerifyChain((*ca)->cert_pem(), {(*ca)->cert_pem()}, X509_PURPOSE_ANY) == X509_V_OK);

  // A key that is not the certificate's is data loss, not a CA.
  auto other = common::pki::NewKeyPem();
  REQUIRE(other.ok());
  REQUIRE(common::WriteFileAtomic(ca_dir + "/ca.key", *other, 0600).ok());
  CHECK(CertAuthority::Load(ca_dir).status().code() == Code::kDataLoss);
}

TEST_CASE("pki: Issue makes certificates that IdentityFromPem and X509_verify_cert accept", "[common][pki]") {
  testing_support::TempDir dir("pki");
  auto ca = MakeCa(dir.path + "/ca");
  const int64_t now = Now();

  SECTION("a device's") {
    Enrollee e = NewEnrollee();
    const std::string id = common::NewUuid();
    auto cert = ca->Issue(e.csr.public_key_der, PeerKind::kDevice, id, {}, 90 * kDay, now);
    REQUIRE(cert.ok());
    auto identity = common::IdentityFromPem(cert->pem);
    REQUIRE(identity.ok());
    CHECK(identity->kind == PeerKind::kDevice);
    CHECK(identity->id == id);
    CHECK(identity->key_sha256 == e.csr.key_sha256);
    CHECK(identity->key_sha256 == *common::pki::KeySha256(e.key_pem));
    CHECK(identity->not_before == now - 300);
    CHECK(identity->not_after == now + 90 * 86400);
    CHECK(identity->serial.size() >= 16);
    CHECK(identity->serial == cert->identity.serial);
    CHECK(cert->identity.id == id);
    CHECK(testing_support::ReadCertsPem(cert->pem).size() == 1);  // no rollover: the leaf alone
    CHECK(VerifyChain(cert->pem, {ca->cert_pem()}, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
    // For the client side only.
    CHECK(VerifyChain(cert->pem, {ca->cert_pem()}, X509_PURPOSE_SSL_SERVER) == X509_V_ERR_INVALID_PURPOSE);
    // Serials are random.
    auto second = ca->Issue(e.csr.public_key_der, PeerKind::kDevice, id, {}, 90 * kDay, now);
    REQUIRE(second.ok());
    CHECK(second->identity.serial != identity->serial);
  }
  SECTION("a beacon's, with its hosts") {
    Enrollee e = NewEnrollee();
    auto cert = ca->Issue(e.csr.public_key_der, PeerKind::kBeacon, "beacon-7",
                          {"beacon7.example.com", "127.0.0.1", "::1"}, 30 * kDay, now);
    REQUIRE(cert.ok());
    auto identity = common::IdentityFromPem(cert->pem);
    REQUIRE(identity.ok());
    CHECK(identity->kind == PeerKind::kBeacon);
    CHECK(identity->id == "beacon-7");
    CHECK(identity->key_sha256 == e.csr.key_sha256);
    CHECK(VerifyChain(cert->pem, {ca->cert_pem()}, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
    CHECK(VerifyChain(cert->pem, {ca->cert_pem()}, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
    auto leaf = testing_support::ReadCertsPem(cert->pem);
    REQUIRE(leaf.size() == 1);
    CHECK(X509_check_host(leaf[0].get(), "beacon7.example.com", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(leaf[0].get(), "other.example.com", 0, 0, nullptr) == 0);
    CHECK(X509_check_ip_asc(leaf[0].get(), "127.0.0.1", 0) == 1);
    CHECK(X509_check_ip_asc(leaf[0].get(), "::1", 0) == 1);
    CHECK(X509_check_ca(leaf[0].get()) == 0);
  }
  SECTION("never past the CA's own expiry") {
    Enrollee e = NewEnrollee();
    auto cert = ca->Issue(e.csr.public_key_der, PeerKind::kBeacon, "b1", {}, 100000 * kDay, now);
    REQUIRE(cert.ok());
    CHECK(cert->identity.not_after == ca->not_after());
  }
  SECTION("bad ids, hosts and keys are refused") {
    Enrollee e = NewEnrollee();
    auto refused = [&](PeerKind kind, const std::string& id, const std::vector<std::string>& hosts,
                       const std::string& why) {
      INFO(id);
      auto r = ca->Issue(e.csr.public_key_der, kind, id, hosts, kDay, now);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK_THAT(r.status().message(), Catch::Contains(why));
    };
    refused(PeerKind::kDevice, "beacon-7", {}, "not a lower-case UUID");
    refused(PeerKind::kDevice, "8C4E1A2B-0000-4000-8000-000000000000", {}, "not a lower-case UUID");
    refused(PeerKind::kDevice, common::NewUuid(), {"host.example"}, "names no hosts");
    refused(PeerKind::kBeacon, "", {}, "beacon name");
    refused(PeerKind::kBeacon, "two words", {}, "beacon name");
    refused(PeerKind::kBeacon, std::string(65, 'b'), {}, "beacon name");
    refused(PeerKind::kNone, "x", {}, "a device or a beacon");
    for (const char* host : {"", "a b", "tab\there", "new\nline", "a,DNS:evil", ".lead", "dots..", "1.2.3",
                             "fe80::1%eth0", "x:y"}) {
      refused(PeerKind::kBeacon, "b1", {host}, "neither a DNS name nor an IP address");
    }
    auto bad_key = ca->Issue("not DER", PeerKind::kBeacon, "b1", {}, kDay, now);
    CHECK(bad_key.status().code() == Code::kInvalidArgument);
    // Issue checks the key itself, whatever its caller did.
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(k, &der);
    std::string spki(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    auto p384 = ca->Issue(spki, PeerKind::kBeacon, "b1", {}, kDay, now);
    CHECK(p384.status().code() == Code::kInvalidArgument);
    CHECK_THAT(p384.status().message(), Catch::Contains("P-256"));
  }
}

TEST_CASE("pki: a CRL revokes for OpenSSL's verifier too", "[common][pki]") {
  testing_support::TempDir dir("pki");
  auto ca = MakeCa(dir.path + "/ca");
  const int64_t now = Now();
  Enrollee e = NewEnrollee();
  auto revoked = ca->Issue(e.csr.public_key_der, PeerKind::kDevice, common::NewUuid(), {}, kDay, now);
  auto kept = ca->Issue(e.csr.public_key_der, PeerKind::kDevice, common::NewUuid(), {}, kDay, now);
  REQUIRE((revoked.ok() && kept.ok()));
  auto crl = ca->MakeCrl({{revoked->identity.serial, now - 10}}, 1, now - 5, 7 * kDay);
  REQUIRE(crl.ok());
  CHECK(VerifyChain(revoked->pem, {ca->cert_pem()}, X509_PURPOSE_SSL_CLIENT, {*crl}) == X509_V_ERR_CERT_REVOKED);
  CHECK(VerifyChain(kept->pem, {ca->cert_pem()}, X509_PURPOSE_SSL_CLIENT, {*crl}) == X509_V_OK);

  CHECK(ca->MakeCrl({{"XYZ", now}}, 2, now, kDay).status().code() == Code::kInvalidArgument);
  CHECK(ca->MakeCrl({{"", now}}, 2, now, kDay).status().code() == Code::kInvalidArgument);
  CHECK(ca->MakeCrl({}, -1, now, kDay).status().code() == Code::kInvalidArgument);
  CHECK(ca->MakeOldCrl({}, 1, now, kDay).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("pki: rollover, then retiring the old CA, end to end", "[common][pki]") {
  testing_support::TempDir dir("pki");
  const std::string ca_dir = dir.path + "/ca";
  auto ca = MakeCa(ca_dir);
  const int64_t now = Now();
  const std::string old_ca = ca->cert_pem();
  Enrollee e = NewEnrollee();
  auto before = ca->Issue(e.csr.public_key_der, PeerKind::kDevice, common::NewUuid(), {}, 30 * kDay, now);
  REQUIRE(before.ok());

  CHECK(ca->Rollover("Estate CA 1", 3650 * kDay, now).code() == Code::kInvalidArgument);  // same name
  REQUIRE(ca->Rollover("Estate CA 2", 3650 * kDay, now).ok());
  CHECK(ca->Rollover("Estate CA 3", 3650 * kDay, now).code() == Code::kFailedPrecondition);
  const std::string new_ca = ca->cert_pem();
  CHECK(ca->rolling_over());
  CHECK(new_ca != old_ca);
  CHECK(ca->old_cert_pem() == old_ca);
  CHECK_FALSE(ca->cross_pem().empty());
  CHECK(FileMode(ca_dir + "/old/ca.key") == 0600);
  CHECK(FileMode(ca_dir + "/ca.key") == 0600);
  CHECK_FALSE(std::filesystem::exists(ca_dir + "/next"));

  // Load reads the rollover back.
  auto loaded = CertAuthority::Load(ca_dir);
  REQUIRE(loaded.ok());
  CHECK((*loaded)->rolling_over());
  CHECK((*loaded)->cert_pem() == new_ca);
  CHECK((*loaded)->old_cert_pem() == old_ca);
  CHECK((*loaded)->cross_pem() == ca->cross_pem());

  // The cross-certificate: the new CA's subject, key and key id, issued by the old CA.
  auto cross = testing_support::ReadCertsPem(ca->cross_pem());
  auto fresh = testing_support::ReadCertsPem(new_ca);
  auto prior = testing_support::ReadCertsPem(old_ca);
  REQUIRE((cross.size() == 1 && fresh.size() == 1 && prior.size() == 1));
  CHECK(X509_NAME_cmp(X509_get_subject_name(cross[0].get()), X509_get_subject_name(fresh[0].get())) == 0);
  CHECK(X509_NAME_cmp(X509_get_issuer_name(cross[0].get()), X509_get_subject_name(prior[0].get())) == 0);
  CHECK(EVP_PKEY_eq(X509_get0_pubkey(cross[0].get()), X509_get0_pubkey(fresh[0].get())) == 1);
  CHECK(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(cross[0].get()), X509_get0_subject_key_id(fresh[0].get())) == 0);
  CHECK(X509_verify(cross[0].get(), X509_get0_pubkey(prior[0].get())) == 1);

  // During the rollover a new leaf carries the cross-certificate: it
  // verifies for a receiver trusting only the old CA and for one trusting
  // only the new CA.
  auto during = ca->Issue(e.csr.public_key_der, PeerKind::kBeacon, "b1", {"beacon.example"}, 30 * kDay, now);
  REQUIRE(during.ok());
  CHECK(testing_support::ReadCertsPem(during->pem).size() == 2);
  CHECK(during->identity.kind == PeerKind::kBeacon);
  CHECK(VerifyChain(during->pem, {old_ca}, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  CHECK(VerifyChain(during->pem, {new_ca}, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  // The leaf alone needs the new CA.
  CHECK(VerifyChain(during->pem.substr(0, during->pem.find("-----END CERTIFICATE-----") + 26), {old_ca},
                    X509_PURPOSE_SSL_SERVER) != X509_V_OK);
  // Old leaves still verify against the old CA, and not against the new one.
  CHECK(VerifyChain(before->pem, {old_ca}, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(VerifyChain(before->pem, {new_ca}, X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
  // The old CA can still revoke.
  auto old_crl = ca->MakeOldCrl({{before->identity.serial, now}}, 2, now, kDay);
  REQUIRE(old_crl.ok());
  CHECK(VerifyChain(before->pem, {old_ca}, X509_PURPOSE_SSL_CLIENT, {*old_crl}) == X509_V_ERR_CERT_REVOKED);

  // Retiring: the old CA and the cross-certificate go.
  REQUIRE(ca->RetireOld().ok());
  CHECK_FALSE(ca->rolling_over());
  CHECK(ca->old_cert_pem().empty());
  CHECK(ca->cross_pem().empty());
  CHECK_FALSE(std::filesystem::exists(ca_dir + "/old"));
  CHECK_FALSE(std::filesystem::exists(ca_dir + "/cross.pem"));
  auto after = ca->Issue(e.csr.public_key_der, PeerKind::kBeacon, "b1", {"beacon.example"}, 30 * kDay, now);
  REQUIRE(after.ok());
  CHECK(testing_support::ReadCertsPem(after->pem).size() == 1);
  CHECK(VerifyChain(after->pem, {new_ca}, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  CHECK(VerifyChain(after->pem, {old_ca}, X509_PURPOSE_SSL_SERVER) != X509_V_OK);
  auto reloaded = CertAuthority::Load(ca_dir);
  REQUIRE(reloaded.ok());
  CHECK_FALSE((*reloaded)->rolling_over());
  CHECK((*reloaded)->cert_pem() == new_ca);
  // And a second rollover may follow.
  CHECK(ca->Rollover("Estate CA 3", 3650 * kDay, now).ok());
}

TEST_CASE("pki: Load finishes a rollover a crash interrupted, or drops an incomplete one", "[common][pki]") {
  testing_support::TempDir dir("pki");
  const std::string ca_dir = dir.path + "/ca", copy = dir.path + "/copy";
  auto ca = MakeCa(ca_dir);
  std::filesystem::copy(ca_dir, copy, std::filesystem::copy_options::recursive);  // before the rollover
  REQUIRE(ca->Rollover("Estate CA 2", 3650 * kDay, Now()).ok());
  const std::string old_ca = ca->old_cert_pem();

  SECTION("a complete stage is committed") {
    std::filesystem::create_directory(copy + "/next");
    for (const char* f : {"ca.key", "ca.pem", "cross.pem"}) {
      std::filesystem::copy_file(ca_dir + "/" + f, copy + "/next/" + f);
    }
    auto loaded = CertAuthority::Load(copy);
    REQUIRE(loaded.ok());
    CHECK((*loaded)->rolling_over());
    CHECK((*loaded)->cert_pem() == ca->cert_pem());
    CHECK((*loaded)->old_cert_pem() == old_ca);
    CHECK_FALSE(std::filesystem::exists(copy + "/next"));
  }
  SECTION("an incomplete stage is dropped") {
    std::filesystem::create_directory(copy + "/next");
    std::filesystem::copy_file(ca_dir + "/ca.key", copy + "/next/ca.key");
    auto loaded = CertAuthority::Load(copy);
    REQUIRE(loaded.ok());
    CHECK_FALSE((*loaded)->rolling_over());
    CHECK((*loaded)->cert_pem() == old_ca);
    CHECK_FALSE(std::filesystem::exists(copy + "/next"));
  }
}
