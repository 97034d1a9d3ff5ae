#include "policy/manifest.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/fs.h"
#include "common/sha256.h"
#include "policy/policy_set.h"
#include "support/mutate.h"

using common::Status;

namespace {
std::string Fixture(const std::string& name) {
  auto text = common::ReadFile(std::string(TEST_DATA_DIR) + "/policy/" + name);
  REQUIRE(text.ok());
  return *text;
}
}  // namespace

TEST_CASE("manifest: round trip") {
  policy::Manifest m;
  m.revision = 42;
  m.files = {{"a.xml", common::Sha256Hex("a"), 1}, {"b.xml", common::Sha256Hex("bb"), 2}};
  std::string xml = policy::ToXml(m);
  auto back = policy::ParseManifestXml(xml, "m.xml");
  REQUIRE(back.ok());
  CHECK(*back == m);
  CHECK(policy::ManifestEtag(xml) == policy::ManifestEtag(xml));
  CHECK(policy::ManifestEtag(xml).size() == 34);
  policy::Manifest empty;
  CHECK(*policy::ParseManifestXml(policy::ToXml(empty), "e.xml") == empty);
}

TEST_CASE("manifest: good fixture and its broken twins") {
  auto good = policy::ParseManifestXml(Fixture("manifest_good.xml"), "manifest_good.xml");
  REQUIRE(good.ok());
  CHECK(good->revision == 12);
  CHECK(good->files.size() == 2);

  struct Case {
    std::string file, where, what;
  };
  for (const auto& c : std::vector<Case>{
           {"manifest_bad_digest.xml", "manifest_bad_digest.xml:4:3: ", "sha256 must be 64 lower-case hex"},
           {"manifest_bad_unknown.xml", "manifest_bad_unknown.xml:4:3: ", "unknown element <script>"},
           {"manifest_bad_name.xml", "manifest_bad_name.xml:3:3: ", "bad or missing file name"},
           {"manifest_bad_xml.xml", "manifest_bad_xml.xml:", "not well-formed XML"},
       }) {
    INFO(c.file);
    auto r = policy::ParseManifestXml(Fixture(c.file), c.file);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == common::Code::kInvalidArgument);
    CHECK(r.status().message().rfind(c.where, 0) == 0);
    CHECK(r.status().message().find(c.what) != std::string::npos);
  }
}

TEST_CASE("manifest: hostile input") {
  CHECK_FALSE(policy::ParseManifestXml("", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml(std::string(1 << 20, '<'), "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest version=\"1\" revision=\"-1\"/>", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest version=\"2\" revision=\"1\"/>", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest revision=\"1\"/>", "x").ok());
  CHECK_FALSE(policy::ParseManifestXml("<manifest version=\"1\" revision=\"99999999999999999999\"/>", "x").ok());
  std::string dup = "<manifest version=\"1\" revision=\"1\"><file name=\"a\" sha256=\"" + common::Sha256Hex("") +
                    "\" size=\"0\"/><file name=\"a\" sha256=\"" + common::Sha256Hex("") + "\" size=\"0\"/></manifest>";
  auto r = policy::ParseManifestXml(dup, "dup.xml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("listed twice") != std::string::npos);
  CHECK_FALSE(policy::IsPolicyFileName(".hidden"));
  CHECK_FALSE(policy::IsPolicyFileName("a/b"));
  CHECK(policy::IsPolicyFileName("schedule.xml"));
}

TEST_CASE("policy source: revisions only go up and survive restarts") {
  char tmpl[] = "/tmp/policy-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string pol = dir + "/policy", state = dir + "/state";
  std::filesystem::create_directories(pol);
  REQUIRE(common::WriteFileAtomic(pol + "/policy.xml", "<policy version=\"1\"/>").ok());
  int64_t first = 0;
  {
    auto src = policy::PolicySource::Open(pol, state, nullptr);
    REQUIRE(src.ok());
    auto snap = (*src)->Current();
    first = snap->manifest.revision;
    CHECK(first == 1);
    REQUIRE(snap->manifest.files.size() == 1);
    CHECK(*(*src)->objects().Get(snap->manifest.files[0].sha256) == "<policy version=\"1\"/>");
    // Unchanged folder: same revision, same ETag.
    REQUIRE((*src)->Rescan().ok());
    CHECK((*src)->Current()->etag == snap->etag);
    REQUIRE(common::WriteFileAtomic(pol + "/policy.xml", "<policy version=\"1\"><log level=\"debug\"/></policy>").ok());
    CHECK((*src)->Current()->manifest.revision == 1);  // not before the next rescan
    REQUIRE((*src)->Rescan().ok());
    CHECK((*src)->Current()->manifest.revision == 2);
    CHECK(snap->manifest.revision == 1);  // a snapshot in use never changes
  }
  auto reopened = policy::PolicySource::Open(pol, state, nullptr);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->Current()->manifest.revision == 2);
  // Objects refuse bytes that do not match their name.
  CHECK((*reopened)->objects().Put(common::Sha256Hex("x"), "y").code() == common::Code::kInvalidArgument);
  // A broken document is refused with its location; the last good revision stays.
  REQUIRE(common::WriteFileAtomic(pol + "/schedule.xml", "<schedule version=\"1\">\n  <evnt/>\n</schedule>\n").ok());
  Status broken = (*reopened)->Rescan();
  CHECK(broken.code() == common::Code::kInvalidArgument);
  CHECK(broken.message().rfind(pol + "/schedule.xml:2:3: ", 0) == 0);
  CHECK((*reopened)->Current()->manifest.revision == 2);
  std::filesystem::remove(pol + "/schedule.xml");
  // A damaged revision record stops the central instead of restarting at 0.
  REQUIRE(common::WriteFileAtomic(state + "/policy-revision", "garbage\n").ok());
  CHECK(policy::PolicySource::Open(pol, state, nullptr).status().code() == common::Code::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST_CASE("manifest: mutated input is accepted intact or refused as InvalidArgument") {
  std::string good = Fixture("manifest_good.xml");
  int accepted = 0;
  for (const auto& m : testing_support::Mutations(good, 3000)) {
    auto r = policy::ParseManifestXml(m, "mutant.xml");
    if (r.ok()) {
      ++accepted;
      // Whatever is accepted is well-formed: it serializes and parses back equal.
      CHECK(*policy::ParseManifestXml(policy::ToXml(*r), "again.xml") == *r);
    } else {
      CHECK(r.status().code() == common::Code::kInvalidArgument);
      CHECK(r.status().message().rfind("mutant.xml:", 0) == 0);
    }
  }
  CHECK(accepted < 3000);
}
