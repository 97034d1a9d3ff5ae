#include "common/fs.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/sha256.h"
#include "common/uuid.h"

TEST_CASE("atomic writes replace whole files and leave no temporaries") {
  char tmpl[] = "/tmp/fs-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/state";
  REQUIRE(common::WriteFileAtomic(path, "first").ok());
  REQUIRE(common::WriteFileAtomic(path, "second, longer").ok());
  CHECK(*common::ReadFile(path) == "second, longer");
  CHECK(*common::ListDir(dir) == std::vector<std::string>{"state"});
  CHECK(common::ReadFile(path, 3).status().code() == common::Code::kResourceExhausted);
  CHECK(common::ReadFile(dir + "/missing").status().code() == common::Code::kNotFound);
  CHECK(common::WriteFileAtomic(dir + "/no/such/dir/file", "x").code() == common::Code::kNotFound);
  REQUIRE(common::MakeDirs(dir + "/a/b/c").ok());
  CHECK(std::filesystem::is_directory(dir + "/a/b/c"));
  CHECK(common::MakeDirs(path).code() == common::Code::kFailedPrecondition);
  CHECK(*common::FreeBytes(dir) > 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("uuid files are made once and then kept") {
  char tmpl[] = "/tmp/fs-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto a = common::LoadOrCreateUuidFile(dir + "/id");
  auto b = common::LoadOrCreateUuidFile(dir + "/id");
  REQUIRE(a.ok());
  CHECK(*a == *b);
  CHECK(common::IsUuid(*a));
  REQUIRE(common::WriteFileAtomic(dir + "/bad", "not a uuid\n").ok());
  CHECK(common::LoadOrCreateUuidFile(dir + "/bad").status().code() == common::Code::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST_CASE("ids, tokens and digests") {
  CHECK(common::IsUuid(common::NewUuid()));
  CHECK(common::NewUuid() != common::NewUuid());
  CHECK(common::NewUuid()[14] == '4');
  CHECK_FALSE(common::IsUuid("6F9619FF-8B86-D011-B42D-00CF4FC964FF"));  // upper case
  CHECK_FALSE(common::IsUuid("6f9619ff8b86d011b42d00cf4fc964ff"));
  CHECK_FALSE(common::IsUuid("../../../../../../../../../etc/passwd"));
  CHECK(common::IsToken("dmz-1.example:8443"));
  CHECK_FALSE(common::IsToken("a b"));
  CHECK_FALSE(common::IsToken("a\r\nb"));
  CHECK_FALSE(common::IsToken(std::string(65, 'a')));
  CHECK(common::Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  common::Sha256 h;
  h.Update("a", 1);
  h.Update("bc", 2);
  CHECK(h.HexDigest() == common::Sha256Hex("abc"));
  CHECK(common::IsHexDigest(common::Sha256Hex("")));
  CHECK_FALSE(common::IsHexDigest(std::string(64, 'A')));
}
