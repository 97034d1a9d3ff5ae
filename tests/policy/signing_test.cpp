#include "policy/signing.h"

#include <catch2/catch.hpp>

#include "common/sha256.h"

namespace {
const std::string kCerts = TEST_CERT_DIR;

policy::Manifest Sample() {
  policy::Manifest m;
  m.revision = 7;
  m.device = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
  m.files = {{"policy.xml", common::Sha256Hex("p"), 1}, {"schedule.xml", common::Sha256Hex("s"), 1}};
  return m;
}
}  // namespace

TEST_CASE("signed manifests verify, survive serialization, and nothing else does") {
  auto signer = policy::ManifestSigner::FromPemFile(kCerts + "/policy.key");
  auto verifier = policy::ManifestVerifier::FromPemFile(kCerts + "/policy.pub");
  auto stranger = policy::ManifestVerifier::FromPemFile(kCerts + "/other-ca/policy.pub");
  REQUIRE(signer.ok());
  REQUIRE(verifier.ok());
  REQUIRE(stranger.ok());

  policy::Manifest m = Sample();
  CHECK((*verifier)->Verify(m).code() == common::Code::kDataLoss);  // unsigned
  REQUIRE((*signer)->Sign(&m).ok());
  CHECK(m.signature.size() == 88);
  CHECK((*verifier)->Verify(m).ok());
  // What travels is the XML: parse it back and verify.
  auto parsed = policy::ParseManifestXml(policy::ToXml(m), "signed.xml");
  REQUIRE(parsed.ok());
  CHECK((*verifier)->Verify(*parsed).ok());
  CHECK((*stranger)->Verify(m).code() == common::Code::kDataLoss);

  auto tampered = m;
  tampered.revision = 8;
  CHECK((*verifier)->Verify(tampered).code() == common::Code::kDataLoss);
  tampered = m;
  tampered.files[0].sha256 = common::Sha256Hex("evil");
  CHECK((*verifier)->Verify(tampered).code() == common::Code::kDataLoss);
  tampered = m;
  tampered.device = "00000000-0000-4000-8000-000000000000";  // another device's policy
  CHECK((*verifier)->Verify(tampered).code() == common::Code::kDataLoss);
  tampered = m;
  tampered.files.pop_back();
  CHECK((*verifier)->Verify(tampered).code() == common::Code::kDataLoss);
  tampered = m;
  tampered.signature[10] = tampered.signature[10] == 'A' ? 'B' : 'A';
  CHECK((*verifier)->Verify(tampered).code() == common::Code::kDataLoss);
  tampered.signature = "AAAA";
  CHECK((*verifier)->Verify(tampered).code() == common::Code::kDataLoss);
}

TEST_CASE("policy keys must be Ed25519 PEM files") {
  CHECK(policy::ManifestSigner::FromPemFile(kCerts + "/server.key").status().code() ==
        common::Code::kInvalidArgument);  // an ECDSA key
  CHECK(policy::ManifestVerifier::FromPemFile(kCerts + "/policy.key").status().code() ==
        common::Code::kInvalidArgument);  // a private key where a public one belongs
  CHECK(policy::ManifestVerifier::FromPemFile(kCerts + "/missing.pub").status().code() ==
        common::Code::kNotFound);
}

TEST_CASE("the manifest parser refuses a signature that is not base64") {
  auto r = policy::ParseManifestXml("<manifest version=\"1\" revision=\"1\" device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" signature=\"a\\\"b<>\"/>", "m.xml");
  CHECK_FALSE(r.ok());
  auto s = policy::ParseManifestXml("<manifest version=\"1\" revision=\"1\" device=\"6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f\" signature=\"not base64!\"/>", "m.xml");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("<manifest> 'signature': 'not base64!' is not base64") != std::string::npos);
}

TEST_CASE("a device accepts only a parsable, signed manifest for itself, not older than its own") {
  auto signer = policy::ManifestSigner::FromPemFile(kCerts + "/policy.key");
  auto verifier = policy::ManifestVerifier::FromPemFile(kCerts + "/policy.pub");
  REQUIRE(signer.ok());
  REQUIRE(verifier.ok());
  policy::Manifest m = Sample();
  REQUIRE((*signer)->Sign(&m).ok());
  const std::string xml = policy::ToXml(m);
  const std::string src = "manifest from https://b:1";

  auto ok = policy::AcceptManifest(xml, src, **verifier, m.device, 7);
  REQUIRE(ok.ok());
  CHECK(*ok == m);
  auto garbage = policy::AcceptManifest("<manifest", src, **verifier, m.device, 0);
  CHECK(garbage.status().code() == common::Code::kInvalidArgument);
  CHECK(garbage.status().message().rfind(src + ":", 0) == 0);
  policy::Manifest unsigned_m = m;
  unsigned_m.signature.clear();
  CHECK(policy::AcceptManifest(policy::ToXml(unsigned_m), src, **verifier, m.device, 0).status().code() ==
        common::Code::kDataLoss);
  auto other = policy::AcceptManifest(xml, src, **verifier, "00000000-0000-4000-8000-000000000000", 0);
  CHECK(other.status().code() == common::Code::kPermissionDenied);
  CHECK(other.status().message() == src + " is for device " + m.device + ", not this one");
  auto older = policy::AcceptManifest(xml, src, **verifier, m.device, 8);
  CHECK(older.status().code() == common::Code::kFailedPrecondition);
  CHECK(older.status().message() == "refusing policy revision 7, older than the applied 8");
}
