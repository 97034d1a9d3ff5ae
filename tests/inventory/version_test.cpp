// Debian version order (inventory/version.h) against a table of cases, each
// also checked against `dpkg --compare-versions` itself when dpkg is here.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "inventory/version.h"

namespace {

struct Case {
  const char* a;
  int order;  // -1: a < b, 0: equal, 1: a > b
  const char* b;
};

// The order dpkg gives; each row is also run through dpkg below.
const std::vector<Case> kCases = {
    {"1.0", 0, "1.0"},
    {"1.0", 0, "1.0-0"},
    {"1.0", 0, "0:1.0"},
    {"1.0", -1, "1.1"},
    {"1.9", -1, "1.10"},
    {"1.01", 0, "1.1"},
    {"1.0~rc1", -1, "1.0"},
    {"1.0~rc1", 1, "1.0~beta2"},
    {"1.0~~", -1, "1.0~"},
    {"1.0~~a", -1, "1.0~"},
    {"1.0", -1, "1.0+b1"},
    {"1.0", -1, "1.0a"},
    {"1.0a", -1, "1.0.1"},
    {"1.0+b1", -1, "1.0.1"},
    {"1.0-1", -1, "1.0-2"},
    {"1.0-9", -1, "1.0-10"},
    {"1.0-1", -1, "1.0-1+deb12u1"},
    {"1.0-1+deb12u1", -1, "1.0-1+deb12u2"},
    {"1.0-1~bpo12+1", -1, "1.0-1"},
    {"2:1.0", 1, "1:9.9"},
    {"1:0.1", 1, "99.9"},
    {"10:1", 1, "9:1"},
    {"3.0.11-1~deb12u2", -1, "3.0.13-1~deb12u1"},
    {"3.0.13-1~deb12u1", 1, "3.0.11-1~deb12u2"},
    {"2.36-9+deb12u4", -1, "2.36-9+deb12u7"},
    {"1:2.38.1-5+deb12u1", 1, "2.38.1-5+deb12u1"},
    {"7.88.1-10+deb12u5", 0, "7.88.1-10+deb12u5"},
    {"1.2.3-a", -1, "1.2.3-b"},
    {"1.2-3-4", 1, "1.2-3"},
    {"0.9", -1, "0.10"},
    {"1.0.0", 1, "1.0"},
    {"1.0", -1, "1.0.0"},
    {"1a", -1, "1b"},
    {"1A", -1, "1a"},
};

int Sign(int n) { return n < 0 ? -1 : n > 0 ? 1 : 0; }

// `dpkg --compare-versions a OP b`: true if dpkg says it holds.
bool DpkgSays(const std::string& a, const char* op, const std::string& b) {
  pid_t pid = ::fork();
  if (pid == 0) {
    // dpkg warns about bad syntax on stderr; the order is what counts.
    FILE* devnull = std::freopen("/dev/null", "w", stderr);
    (void)devnull;
    ::execl("/usr/bin/dpkg", "dpkg", "--compare-versions", a.c_str(), op, b.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) != 127);
  return WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("Debian versions compare as dpkg compares them", "[version]") {
  for (const Case& c : kCases) {
    INFO(c.a << " vs " << c.b);
    CHECK(Sign(inventory::CompareDebianVersions(c.a, c.b)) == c.order);
    CHECK(Sign(inventory::CompareDebianVersions(c.b, c.a)) == -c.order);
  }
}

TEST_CASE("the version table agrees with dpkg --compare-versions", "[version]") {
  if (::access("/usr/bin/dpkg", X_OK) != 0) {
    WARN("no /usr/bin/dpkg here: the table is not cross-checked");
    return;
  }
  for (const Case& c : kCases) {
    INFO(c.a << " vs " << c.b);
    const char* op = c.order < 0 ? "lt" : c.order > 0 ? "gt" : "eq";
    CHECK(DpkgSays(c.a, op, c.b));
  }
}

TEST_CASE("version syntax: what a query may name", "[version]") {
  for (const char* good : {"1.0", "0", "1:2.3", "1.0-1", "1.0-1+deb12u1", "2.0~rc1", "1.2-3-4",
                           "1:2:3-1", "3.0.11-1~deb12u2", "7.88.1"}) {
    INFO(good);
    CHECK(inventory::IsDebianVersion(good));
  }
  for (const char* bad : {"", "a1.0", "1.0-", ":1.0", "x:1.0", "1:", "1.0 2", "1.0_1", "1.0-1:2",
                          "1:2.0-", "1.0-a_b", "-1", "1.0\n"}) {
    INFO(bad);
    CHECK_FALSE(inventory::IsDebianVersion(bad));
  }
  CHECK_FALSE(inventory::IsDebianVersion(std::string(300, '1')));
}
