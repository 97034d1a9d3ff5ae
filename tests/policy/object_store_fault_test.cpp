// Policy objects through the Env seam: a failing disk or a power cut never
// leaves a torn object that would be served or applied.
#include <catch2/catch.hpp>
#include <filesystem>

#include "common/sha256.h"
#include "policy/object_store.h"
#include "support/fault_env.h"

namespace fs = std::filesystem;
using testing_support::FaultEnv;

TEST_CASE("object store: ENOSPC/EIO or a power cut at any step leaves the object absent or whole") {
  const std::string data = "<policy version=\"1\"/>\n" + std::string(5000, ' ');
  const std::string sha = common::Sha256Hex(data);
  for (int err : {ENOSPC, EIO}) {
    for (int k = 1; k <= 6; ++k) {
      for (bool power_cut : {false, true}) {
        INFO("errno " << err << ", operation " << k << (power_cut ? ", then a power cut" : ""));
        char tmpl[] = "/tmp/objects-fault-XXXXXX";
        std::string dir = ::mkdtemp(tmpl);
        FaultEnv env;
        policy::ObjectStore store(dir, &env);
        REQUIRE(store.Init().ok());
        env.FailNth(FaultEnv::kAll, k, err, /*sticky=*/power_cut);
        common::Status put = store.Put(sha, data);
        if (power_cut) env.PowerCut();
        env.Heal();
        auto got = store.Get(sha);
        if (put.ok()) {
          REQUIRE(got.ok());  // written, synced and named: it survives
          CHECK(*got == data);
        } else if (got.ok()) {
          CHECK(*got == data);  // never torn
        } else {
          CHECK(got.status().code() == common::Code::kNotFound);
          CHECK(store.Put(sha, data).ok());  // a second try stores it
        }
        fs::remove_all(dir);
      }
    }
  }
}
