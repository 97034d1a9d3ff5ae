// common/pki.h: the trust bundle, parsed and accepted, through a CA rollover.
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/pki.h"
#include "common/sha256.h"
#include "common/uuid.h"
#include "support/mutate.h"
#include "support/temp_dir.h"
#include "support/x509_verify.h"

namespace {

using common::Code;
using common::PeerKind;
using common::pki::AcceptTrustBundle;
using common::pki::CertAuthority;
using common::pki::MakeTrustBundle;
using common::pki::ParseTrustBundle;
using common::pki::TrustBundle;

constexpr auto kDay = std::chrono::seconds(86400);

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::unique_ptr<CertAuthority> MakeCa(const std::string& dir, const std::string& name) {
  REQUIRE(CertAuthority::Init(dir, name, 3650 * kDay).ok());
  auto ca = CertAuthority::Load(dir);
  INFO(ca.status().ToString());
  REQUIRE(ca.ok());
  return std::move(ca).value();
}

std::string Crl(CertAuthority& ca, int64_t number, const std::vector<common::pki::Revoked>& revoked = {}) {
  auto crl = ca.MakeCrl(revoked, number, Now(), 7 * kDay);
  REQUIRE(crl.ok());
  return *crl;
}

TrustBundle Bundle(const std::vector<std::string>& cas, const std::vector<std::string>& crosses,
                   const std::vector<std::string>& crls) {
  auto b = MakeTrustBundle(cas, crosses, crls);
  INFO(b.status().ToString());
  REQUIRE(b.ok());
  return *b;
}

std::string KeyDigestOf(const std::string& cert_pem) {
  auto certs = testing_support::ReadCertsPem(cert_pem);
  REQUIRE(certs.size() == 1);
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certs[0].get()), &der);
  std::string digest = common::Sha256Hex(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  return digest;
}

void Refused(const common::StatusOr<TrustBundle>& r, const std::string& why) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains(why));
}

}  // namespace

TEST_CASE("pki trust: a bundle's CRL is read back", "[common][pki]") {
  testing_support::TempDir dir("pki");
  auto ca = MakeCa(dir.path + "/ca", "Estate CA 1");
  const int64_t now = Now();
  auto crl = ca->MakeCrl({{"1f", now - 100}, {"abc123", now - 50}}, 4, now, 7 * kDay);
  REQUIRE(crl.ok());
  TrustBundle made = Bundle({ca->cert_pem()}, {}, {*crl});
  auto parsed = ParseTrustBundle(made.ToPem());
  REQUIRE(parsed.ok());
  REQUIRE(parsed->crls.size() == 1);
  const common::pki::Crl& c = parsed->crls[0];
  CHECK(c.issuer_sha256 == KeyDigestOf(ca->cert_pem()));
  CHECK(c.number == 4);
  CHECK(c.this_update == now);
  CHECK(c.next_update == now + 7 * 86400);
  CHECK(c.serials == std::vector<std::string>{"1f", "abc123"});
  CHECK(parsed->RevokedSerials() == std::vector<std::string>{"1f", "abc123"});
  CHECK(parsed->ExpiresAt() == now + 7 * 86400);  // the CRL is due before the CA expires
  CHECK(parsed->ca_pems == std::vector<std::string>{ca->cert_pem()});
  // ToPem is a fixed point, whatever whitespace came in.
  CHECK(parsed->ToPem() == made.ToPem());
  auto spaced = ParseTrustBundle("\n\n" + ca->cert_pem() + "\r\n\r\n" + *crl + "\n  ");
  REQUIRE(spaced.ok());
  CHECK(spaced->ToPem() == made.ToPem());
  // The configured CA file: certificates only.
  auto certs_only = ParseTrustBundle(ca->cert_pem());
  REQUIRE(certs_only.ok());
  CHECK(certs_only->crls.empty());
  CHECK(certs_only->ExpiresAt() == ca->not_after());
}

TEST_CASE("pki trust: ParseTrustBundle refuses foreign pieces", "[common][pki]") {
  testing_support::TempDir dir("pki");
  auto ca = MakeCa(dir.path + "/ca", "Estate CA 1");
  auto other = MakeCa(dir.path + "/other", "Other CA");
  auto twin = MakeCa(dir.path + "/twin", "Estate CA 1");  // same name, another key
  const std::string crl = Crl(*ca, 1);

  Refused(ParseTrustBundle(ca->cert_pem() + Crl(*other, 1)), "is not signed by a CA in the bundle");
  Refused(ParseTrustBundle(ca->cert_pem() + Crl(*twin, 1)), "is not signed by a CA in the bundle");
  Refused(ParseTrustBundle(ca->cert_pem() + crl + crl), "two CRLs of CA 'Estate CA 1'");
  Refused(ParseTrustBundle(ca->cert_pem() + ca->cert_pem()), "appears twice");
  Refused(ParseTrustBundle(crl), "no CA certificate");
  Refused(ParseTrustBundle(""), "no CA certificate");

  auto key = common::pki::NewKeyPem();
  REQUIRE(key.ok());
  Refused(ParseTrustBundle(ca->cert_pem() + *key), "is a 'PRIVATE KEY', not a CERTIFICATE or X509 CRL");

  auto enrollee = common::pki::ParseCsr(*common::pki::MakeCsr(*key, "x"));
  REQUIRE(enrollee.ok());
  auto leaf = ca->Issue(enrollee->public_key_der, PeerKind::kBeacon, "b1", {}, kDay, Now());
  REQUIRE(leaf.ok());
  Refused(ParseTrustBundle(ca->cert_pem() + leaf->pem), "('b1') is not a CA certificate");

  Refused(ParseTrustBundle(ca->cert_pem() + std::string(common::pki::kMaxTrustBytes, '\n')), "allowed");
  std::string many;
  for (int i = 0; i < 17; ++i) many += crl;
  Refused(ParseTrustBundle(ca->cert_pem() + many), "more than 16 PEM blocks");
  Refused(ParseTrustBundle(ca->cert_pem() + "garbage"), "text outside a PEM block");

  // MakeTrustBundle checks its pieces the same way, and that each is what it says.
  Refused(MakeTrustBundle({ca->cert_pem()}, {}, {Crl(*other, 1)}), "is not signed by a CA in the bundle");
  Refused(MakeTrustBundle({ca->cert_pem(), crl}, {}, {}), "are not 2 CA(s)");
}

TEST_CASE("pki trust: AcceptTrustBundle follows CRL numbers", "[common][pki]") {
  testing_support::TempDir dir("pki");
  auto ca = MakeCa(dir.path + "/ca", "Estate CA 1");
  TrustBundle held = Bundle({ca->cert_pem()}, {}, {Crl(*ca, 5)});

  CHECK(AcceptTrustBundle(held.ToPem(), held).ok());  // the same bundle, served again
  auto newer = AcceptTrustBundle(Bundle({ca->cert_pem()}, {}, {Crl(*ca, 6, {{"ff", Now()}})}).ToPem(), held);
  REQUIRE(newer.ok());
  CHECK(newer->crls[0].number == 6);
  CHECK(newer->RevokedSerials() == std::vector<std::string>{"ff"});
  Refused(AcceptTrustBundle(Bundle({ca->cert_pem()}, {}, {Crl(*ca, 4)}).ToPem(), held),
          "the CRL of CA 'Estate CA 1' is number 4, older than the number 5 held");
  Refused(AcceptTrustBundle(ca->cert_pem(), held), "has no CRL of CA 'Estate CA 1'");

  // A receiver configured with the CA file alone takes any CRL of that CA.
  auto configured = ParseTrustBundle(ca->cert_pem());
  REQUIRE(configured.ok());
  CHECK(AcceptTrustBundle(held.ToPem(), *configured).ok());

  CHECK(AcceptTrustBundle(held.ToPem(), TrustBundle()).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("pki trust: AcceptTrustBundle takes a new CA only with a trusted cross-certificate", "[common][pki]") {
  testing_support::TempDir dir("pki");
  auto ca = MakeCa(dir.path + "/ca", "Estate CA 1");
  TrustBundle held = Bundle({ca->cert_pem()}, {}, {Crl(*ca, 1)});

  SECTION("a CA nobody vouches for") {
    auto stranger = MakeCa(dir.path + "/stranger", "Stranger CA");
    Refused(AcceptTrustBundle(held.ToPem() + stranger->cert_pem(), held),
            "CA 'Stranger CA' is not trusted and no cross-certificate from a trusted CA vouches for it");
    // Nor one that replaces every trusted CA.
    TrustBundle only_stranger = Bundle({stranger->cert_pem()}, {}, {Crl(*stranger, 9)});
    Refused(AcceptTrustBundle(only_stranger.ToPem(), held), "is not trusted");
  }
  SECTION("a CA vouched for by a stranger") {
    // The stranger rolls over to a CA that claims the estate's next name.
    auto stranger = MakeCa(dir.path + "/stranger", "Stranger CA");
    REQUIRE(stranger->Rollover("Estate CA 2", 3650 * kDay, Now()).ok());
    // With the stranger in the bundle, the stranger itself is the untrusted CA...
    Refused(AcceptTrustBundle(held.ToPem() + stranger->old_cert_pem() + stranger->cert_pem() + stranger->cross_pem(), held),
            "is not trusted and no cross-certificate from a trusted CA vouches for it");
    // ...and without it the cross-certificate links nothing.
    Refused(AcceptTrustBundle(held.ToPem() + stranger->cert_pem() + stranger->cross_pem(), held),
            "is not a CA of the bundle signed by another CA of the bundle");
  }
  SECTION("the estate's own rollover") {
    const std::string old_ca = ca->cert_pem();
    REQUIRE(ca->Rollover("Estate CA 2", 3650 * kDay, Now()).ok());
    auto old_crl = ca->MakeOldCrl({}, 2, Now(), 7 * kDay);
    REQUIRE(old_crl.ok());
    TrustBundle rolling = Bundle({ca->old_cert_pem(), ca->cert_pem()}, {ca->cross_pem()}, {*old_crl, Crl(*ca, 1)});
    CHECK(rolling.ca_pems == std::vector<std::string>{old_ca, ca->cert_pem()});  // oldest first

    // A receiver that trusts only the old CA takes the new one through the cross-certificate.
    auto accepted = AcceptTrustBundle(rolling.ToPem(), held);
    REQUIRE(accepted.ok());
    CHECK(accepted->ca_pems.size() == 2);
    CHECK(accepted->cross_pems.size() == 1);
    CHECK(accepted->ToPem() == rolling.ToPem());
    // Leaving the old CA's CRL behind would unrevoke its certificates.
    Refused(AcceptTrustBundle(Bundle({ca->old_cert_pem(), ca->cert_pem()}, {ca->cross_pem()}, {Crl(*ca, 1)}).ToPem(), held),
            "has no CRL of CA 'Estate CA 1'");
    // Without the cross-certificate the new CA is a stranger.
    Refused(AcceptTrustBundle(Bundle({ca->old_cert_pem(), ca->cert_pem()}, {}, {*old_crl, Crl(*ca, 1)}).ToPem(), held),
            "CA 'Estate CA 2' is not trusted");

    // Once retired, the new CA alone: accepted by whoever took the rollover
    // bundle, refused by a receiver that missed it (nothing left proves the
    // new CA to it).
    REQUIRE(ca->RetireOld().ok());
    TrustBundle retired = Bundle({ca->cert_pem()}, {}, {Crl(*ca, 2)});
    auto after = AcceptTrustBundle(retired.ToPem(), *accepted);
    REQUIRE(after.ok());
    CHECK(after->ca_pems == std::vector<std::string>{ca->cert_pem()});
    Refused(AcceptTrustBundle(retired.ToPem(), held), "CA 'Estate CA 2' is not trusted");
    // The new CA's CRL does not go backwards either.
    Refused(AcceptTrustBundle(Bundle({ca->cert_pem()}, {}, {Crl(*ca, 0)}).ToPem(), *accepted), "older than");
  }
  SECTION("foreign pieces") {
    auto key = common::pki::NewKeyPem();
    REQUIRE(key.ok());
    Refused(AcceptTrustBundle(held.ToPem() + *key, held), "'PRIVATE KEY'");
    Refused(AcceptTrustBundle(held.ToPem() + std::string(common::pki::kMaxTrustBytes, ' '), held), "allowed");
  }
}

TEST_CASE("pki trust: mutated bundles and requests never smuggle in a key", "[common][pki]") {
  testing_support::TempDir dir("pki");
  auto ca = MakeCa(dir.path + "/ca", "Estate CA 1");
  TrustBundle held = Bundle({ca->cert_pem()}, {}, {Crl(*ca, 1, {{"1f", Now()}})});
  REQUIRE(ca->Rollover("Estate CA 2", 3650 * kDay, Now()).ok());
  auto old_crl = ca->MakeOldCrl({{"1f", Now()}}, 2, Now(), 7 * kDay);
  REQUIRE(old_crl.ok());
  const std::string good =
      Bundle({ca->old_cert_pem(), ca->cert_pem()}, {ca->cross_pem()}, {*old_crl, Crl(*ca, 1)}).ToPem();
  const std::vector<std::string> keys = {KeyDigestOf(ca->old_cert_pem()), KeyDigestOf(ca->cert_pem())};
  int accepted = 0;
  for (const std::string& bad : testing_support::Mutations(good, 300)) {
    auto r = AcceptTrustBundle(bad, held);
    if (!r.ok()) continue;
    ++accepted;
    for (const std::string& pem : r->ca_pems) {
      CHECK(std::find(keys.begin(), keys.end(), KeyDigestOf(pem)) != keys.end());
    }
    CHECK(r->RevokedSerials() == std::vector<std::string>{"1f"});
  }
  CHECK(accepted < 300);  // most mutations break something

  auto key = common::pki::NewKeyPem();
  REQUIRE(key.ok());
  auto csr = common::pki::MakeCsr(*key, "enrollee");
  REQUIRE(csr.ok());
  const std::string digest = *common::pki::KeySha256(*key);
  for (const std::string& bad : testing_support::Mutations(*csr, 300, 2)) {
    auto r = common::pki::ParseCsr(bad);
    if (r.ok()) CHECK(r->key_sha256 == digest);
  }
}
