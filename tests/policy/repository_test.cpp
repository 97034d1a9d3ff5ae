#include "policy/repository.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "common/fs.h"
#include "common/sha256.h"
#include "policy/policy_set.h"
#include "support/temp_dir.h"

namespace {

const std::string kDevice = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";

using testing_support::TempDir;

policy::TreeFiles Tree(const std::string& level) {
  return {{"default/policy.xml", "<policy version=\"1\"><log level=\"" + level + "\"/></policy>"}};
}

}  // namespace

TEST_CASE("repository: revisions are numbered, immutable and only go up") {
  TempDir tmp;
  policy::PolicyRepository repo(tmp.path);
  REQUIRE(repo.Init().ok());
  CHECK(*repo.Latest() == 0);
  CHECK(repo.History()->empty());

  auto r1 = repo.Publish(Tree("info"), "policy", "alice", "first");
  REQUIRE(r1.ok());
  CHECK(r1->number == 1);
  // The same tree again publishes nothing.
  auto same = repo.Publish(Tree("info"), "policy", "bob", "again");
  CHECK(same.status().code() == common::Code::kFailedPrecondition);
  CHECK(same.status().message().find("nothing to publish") == 0);
  auto r2 = repo.Publish(Tree("debug"), "policy", "bob", "more logs");
  REQUIRE(r2.ok());
  CHECK(r2->number == 2);
  // A rollback is a new revision with the old files.
  auto r3 = repo.Publish(*repo.Files(*repo.Get(1)), "revision 1", "alice", "too noisy", 1);
  REQUIRE(r3.ok());
  CHECK(r3->number == 3);

  auto history = repo.History();
  REQUIRE(history.ok());
  REQUIRE(history->size() == 3);
  CHECK((*history)[0].author == "alice");
  CHECK((*history)[1].message == "more logs");
  CHECK((*history)[2].rollback_of == 1);
  CHECK((*history)[2].files == (*history)[0].files);
  CHECK(*repo.Files((*history)[1]) == Tree("debug"));
  CHECK(repo.Get(4).status().code() == common::Code::kNotFound);

  // An invalid tree is refused with its location and nothing is published.
  policy::TreeFiles broken = {{"default/policy.xml", "<policy version=\"1\">\n<log level=\"loud\"/></policy>"}};
  auto refused = repo.Publish(broken, "/etc/policy", "alice", "");
  CHECK(refused.status().code() == common::Code::kInvalidArgument);
  CHECK(refused.status().message().rfind("/etc/policy/default/policy.xml:2:1: ", 0) == 0);
  CHECK(*repo.Latest() == 3);
  // Who and why are checked too.
  CHECK(repo.Publish(Tree("warn"), "policy", "bad name", "").status().code() == common::Code::kInvalidArgument);
  CHECK(repo.Publish(Tree("warn"), "policy", "alice", "two\nlines").status().code() ==
        common::Code::kInvalidArgument);
  CHECK(*repo.Latest() == 3);
}

TEST_CASE("repository: numbers continue above a central's old revision counter") {
  TempDir tmp;
  policy::PolicyRepository repo(tmp.path);
  REQUIRE(repo.Init().ok());
  REQUIRE(common::WriteFileAtomic(tmp.path + "/policy-revision", "41 " + std::string(64, 'a') + "\n").ok());
  auto r = repo.Publish(Tree("info"), "policy", "alice", "");
  REQUIRE(r.ok());
  CHECK(r->number == 42);  // clients that applied 41 take it
  CHECK(*repo.Latest() == 42);
}

TEST_CASE("repository: damage is reported, never papered over") {
  TempDir tmp;
  policy::PolicyRepository repo(tmp.path);
  REQUIRE(repo.Init().ok());
  auto r1 = repo.Publish(Tree("info"), "policy", "alice", "");
  REQUIRE(r1.ok());
  // A rotten object.
  REQUIRE(common::WriteFileAtomic(tmp.path + "/objects/" + r1->files[0].sha256, "rotten").ok());
  CHECK(repo.Files(*r1).status().code() == common::Code::kDataLoss);
  // A damaged record.
  REQUIRE(common::WriteFileAtomic(tmp.path + "/revisions/1", "beacon-policy-revision 1\nnumber one\n").ok());
  CHECK(repo.Get(1).status().code() == common::Code::kDataLoss);
  REQUIRE(common::WriteFileAtomic(tmp.path + "/revisions/1", "garbage").ok());
  CHECK(repo.Get(1).status().code() == common::Code::kDataLoss);
  // A record naming a path outside group/file (it would be written out by diff).
  for (const char* path : {"../../etc/passwd", "default/../../x", "default", "Default/policy.xml", "a/b/c"}) {
    INFO(path);
    REQUIRE(common::WriteFileAtomic(tmp.path + "/revisions/1",
                                    "beacon-policy-revision 1\nnumber 1\npublished-at 1\npublished-by a\nmessage \nfile " +
                                        std::string(64, 'a') + " 1 " + path + "\n").ok());
    CHECK(repo.Get(1).status().code() == common::Code::kDataLoss);
  }
  CHECK(repo.History().status().code() == common::Code::kDataLoss);
}

TEST_CASE("repository: publishers racing get distinct revisions") {
  TempDir tmp;
  policy::PolicyRepository repo(tmp.path);
  REQUIRE(repo.Init().ok());
  const char* levels[] = {"debug", "info", "warn", "error"};
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (const char* level : levels) {
    threads.emplace_back([&, level] {
      // Each thread opens its own lock file description, as separate processes do.
      if (policy::PolicyRepository(tmp.path).Publish(Tree(level), "policy", "alice", level).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 4);
  auto history = repo.History();
  REQUIRE(history.ok());
  REQUIRE(history->size() == 4);
  std::set<std::string> messages;
  for (const auto& r : *history) messages.insert(r.message);
  CHECK(messages.size() == 4);
}

TEST_CASE("policy source: serves only published revisions, resolved and cached per device") {
  TempDir tmp;
  int lookups = 0;
  policy::DeviceFacts server;
  server.inventoried = true;
  server.hostname = "srv-1";
  bool known = false;
  auto facts = [&](const std::string&) -> common::StatusOr<policy::DeviceFacts> {
    ++lookups;
    if (!known) return common::NotFound("never seen");
    return server;
  };
  auto src = policy::PolicySource::Open(tmp.path, tmp.path + "/served", nullptr, facts);
  REQUIRE(src.ok());
  CHECK((*src)->ManifestFor(kDevice).status().code() == common::Code::kNotFound);  // nothing published

  policy::PolicyRepository repo(tmp.path);
  policy::TreeFiles tree = Tree("info");
  tree["servers/group.xml"] = "<group version=\"1\" priority=\"1\"><hostname glob=\"srv-*\"/></group>";
  tree["servers/policy.xml"] = "<policy version=\"1\"><log level=\"debug\"/></policy>";
  REQUIRE(repo.Publish(tree, "policy", "alice", "").ok());
  CHECK((*src)->revision() == 0);  // not before Refresh
  REQUIRE((*src)->Refresh().ok());
  CHECK((*src)->revision() == 1);

  // Unseen: the default group.
  auto m1 = (*src)->ManifestFor(kDevice);
  REQUIRE(m1.ok());
  CHECK((*m1)->manifest.revision == 1);
  CHECK((*m1)->manifest.device == kDevice);
  REQUIRE((*m1)->manifest.files.size() == 1);
  auto served = (*src)->objects().Get((*m1)->manifest.files[0].sha256);
  REQUIRE(served.ok());
  CHECK(served->find("level=\"info\"") != std::string::npos);
  CHECK(lookups == 1);
  CHECK((*src)->ManifestFor(kDevice)->get() == m1->get());  // cached
  CHECK(lookups == 1);

  // Its inventory arrives: it is resolved again and joins servers.
  known = true;
  (*src)->Forget(kDevice);
  auto m2 = (*src)->ManifestFor(kDevice);
  REQUIRE(m2.ok());
  CHECK(lookups == 2);
  CHECK((*m2)->manifest.revision == 1);
  CHECK((*m2)->etag != (*m1)->etag);
  CHECK((*src)->objects().Get((*m2)->manifest.files[0].sha256)->find("level=\"debug\"") != std::string::npos);

  // A new revision replaces every cached manifest.
  tree["servers/policy.xml"] = "<policy version=\"1\"><log level=\"warn\"/></policy>";
  REQUIRE(repo.Publish(tree, "policy", "alice", "").ok());
  REQUIRE((*src)->Refresh().ok());
  auto m3 = (*src)->ManifestFor(kDevice);
  REQUIRE(m3.ok());
  CHECK((*m3)->manifest.revision == 2);
  CHECK(lookups == 3);

  // A lookup failure fails the request rather than guessing.
  (*src)->Forget(kDevice);
  auto failing = policy::PolicySource::Open(
      tmp.path, tmp.path + "/served", nullptr, [](const std::string&) -> common::StatusOr<policy::DeviceFacts> {
        return common::Unavailable("store busy");
      });
  REQUIRE(failing.ok());
  CHECK((*failing)->ManifestFor(kDevice).status().code() == common::Code::kUnavailable);

  // A damaged newest revision: the revision in service stays; a restart refuses.
  REQUIRE(common::WriteFileAtomic(tmp.path + "/revisions/3", "garbage").ok());
  CHECK((*src)->Refresh().code() == common::Code::kDataLoss);
  CHECK((*src)->revision() == 2);
  CHECK((*src)->ManifestFor(kDevice)->get()->manifest.revision == 2);
  // Removed records would take the central backwards: refused too.
  std::filesystem::remove(tmp.path + "/revisions/3");
  std::filesystem::remove(tmp.path + "/revisions/2");
  CHECK((*src)->Refresh().code() == common::Code::kDataLoss);
  CHECK((*src)->revision() == 2);
  REQUIRE(common::WriteFileAtomic(tmp.path + "/revisions/3", "garbage").ok());
  CHECK(policy::PolicySource::Open(tmp.path, tmp.path + "/served", nullptr, facts).status().code() == common::Code::kDataLoss);
  // Every record gone (an old backup restored): a restarted central remembers
  // it served revision 2 and refuses to start rather than go back.
  std::filesystem::remove_all(tmp.path + "/revisions");
  CHECK(policy::PolicySource::Open(tmp.path, tmp.path + "/served", nullptr, facts).status().code() == common::Code::kDataLoss);
}

TEST_CASE("object store: refuses wrong bytes and repairs a rotten copy") {
  TempDir tmp;
  policy::ObjectStore store(tmp.path + "/objects");
  REQUIRE(store.Init().ok());
  const std::string sha = common::Sha256Hex("good");
  CHECK(store.Put(sha, "evil").code() == common::Code::kInvalidArgument);
  CHECK(store.Get(sha).status().code() == common::Code::kNotFound);
  REQUIRE(store.Put(sha, "good").ok());
  REQUIRE(common::WriteFileAtomic(tmp.path + "/objects/" + sha, "rotten").ok());
  CHECK(store.Get(sha).status().code() == common::Code::kDataLoss);
  REQUIRE(store.Put(sha, "good").ok());  // the same content again replaces it
  CHECK(*store.Get(sha) == "good");
}
