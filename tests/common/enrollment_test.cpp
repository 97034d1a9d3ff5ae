// The enrollment request document (common/enrollment.h): the writer's output
// reads back; broken, hostile and oversized documents are refused with a
// located error, never accepted in part.
#include <catch2/catch.hpp>

#include "common/enrollment.h"
#include "common/pki.h"
#include "support/mutate.h"

namespace {

common::EnrollRequest Good() {
  auto key = common::pki::NewKeyPem();
  REQUIRE(key.ok());
  auto csr = common::pki::MakeCsr(*key, "web-01");
  REQUIRE(csr.ok());
  return {"web-01", "3f9c01aa.5e0d9a7c11b24f6e8d0c3b2a19f8e7d6", *csr};
}

}  // namespace

TEST_CASE("enrollment document: written and read back, key digest included") {
  const common::EnrollRequest good = Good();
  common::pki::CsrInfo key;
  auto parsed = common::ParseEnrollRequest(common::EnrollRequestXml(good), "req", &key);
  REQUIRE(parsed.ok());
  CHECK(parsed->host == good.host);
  CHECK(parsed->secret == good.secret);
  CHECK(parsed->csr_pem == good.csr_pem);
  CHECK(key.key_sha256 == common::pki::ParseCsr(good.csr_pem).value().key_sha256);
  // No secret (approval mode, renewal) and no host are fine.
  auto bare = common::ParseEnrollRequest(common::EnrollRequestXml({"", "", good.csr_pem}), "req", nullptr);
  REQUIRE(bare.ok());
  CHECK(bare->secret.empty());
  CHECK(bare->host.empty());
}

TEST_CASE("enrollment document: bad documents are refused with the reason") {
  const common::EnrollRequest good = Good();
  const std::string csr_attr = common::EnrollRequestXml({"", "", good.csr_pem});
  struct Case {
    const char* name;
    std::string body;
    const char* says;
  };
  auto with = [&](const std::string& attrs) {
    return "<enroll version=\"1\" " + attrs + csr_attr.substr(csr_attr.find(" csr="));
  };
  std::vector<Case> cases = {
      {"empty", "", "req:"},
      {"another root", "<manifest version=\"1\"/>", "enroll"},
      {"version 2", "<enroll version=\"2\"" + csr_attr.substr(csr_attr.find(" csr=")), "not supported"},
      {"no csr", "<enroll version=\"1\" secret=\"a.b\"/>", "csr"},
      {"unknown attribute", with("device=\"x\" "), "unknown attribute"},
      {"host not a token", with("host=\"a b\" "), "host"},
      {"secret too long", with("secret=\"" + std::string(129, 'a') + "\" "), "secret"},
      {"empty secret", with("secret=\"\" "), "secret"},
      {"a child element", "<enroll version=\"1\" csr=\"x\"><csr/></enroll>", "unknown element"},
      {"csr not a request", "<enroll version=\"1\" csr=\"-----BEGIN CERTIFICATE REQUEST-----&#10;AAAA&#10;-----END CERTIFICATE REQUEST-----&#10;\"/>",
       "enrollment request"},
      {"oversized", with("host=\"" + std::string(20000, 'a') + "\" "), "req"},
      {"entity", "<!DOCTYPE enroll [<!ENTITY x \"y\">]>" + csr_attr.substr(csr_attr.find("<enroll")), "DOCTYPE"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto parsed = common::ParseEnrollRequest(c.body, "req", nullptr);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == common::Code::kInvalidArgument);
    CHECK(parsed.status().message().find(c.says) != std::string::npos);
  }
}

TEST_CASE("enrollment document: mutations never crash and never change what is accepted") {
  const common::EnrollRequest good = Good();
  const std::string text = common::EnrollRequestXml(good);
  int accepted = 0;
  for (const std::string& m : testing_support::Mutations(text, 2000)) {
    common::pki::CsrInfo key;
    auto parsed = common::ParseEnrollRequest(m, "req", &key);
    if (!parsed.ok()) continue;
    ++accepted;
    // Whatever is accepted carries a request whose own signature verified.
    auto again = common::pki::ParseCsr(parsed->csr_pem);
    REQUIRE(again.ok());
    CHECK(again->key_sha256 == key.key_sha256);
  }
  // Most mutations break the document or the request's signature.
  CHECK(accepted < 2000);
}
