// common/src/log.cpp: the journal's line format when stderr is the journal
// stream (JOURNAL_STREAM names stderr's device and inode), the plain one
// otherwise.
#include "common/log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace {

// Runs `body` with stderr sent to the file `path` and JOURNAL_STREAM set by
// `journal_stream` (given the file's real "dev:ino"); returns what was
// written. The format is chosen again afterwards, for the real stderr.
std::string WithStderrIn(const std::string& path, const std::function<std::string(const std::string&)>& journal_stream,
                         const std::function<void()>& body) {
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  struct stat sb {};
  REQUIRE(::fstat(STDERR_FILENO, &sb) == 0);
  const std::string real = std::to_string(sb.st_dev) + ":" + std::to_string(sb.st_ino);
  ::setenv("JOURNAL_STREAM", journal_stream(real).c_str(), 1);
  body();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::unsetenv("JOURNAL_STREAM");
  common::UseJournalIfConnected();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("log: on the journal's stream, lines carry sd-daemon priorities and no time") {
  testing_support::TempDir dir;
  common::SetLogTag("beacon");
  common::SetLogLevel(common::LogLevel::kDebug);
  const std::string text = WithStderrIn(dir.path + "/stderr", [](const std::string& real) { return real; }, [] {
    CHECK(common::UseJournalIfConnected());
    common::LogDebug("d");
    common::LogInfo("i");
    common::LogWarn("w");
    common::LogError("e");
  });
  common::SetLogLevel(common::LogLevel::kInfo);
  CHECK(text == "<7>DEBUG beacon: d\n<6>INFO beacon: i\n<4>WARN beacon: w\n<3>ERROR beacon: e\n");
}

TEST_CASE("log: a JOURNAL_STREAM that is not stderr's (inherited, or not a number) keeps the plain format") {
  testing_support::TempDir dir;
  common::SetLogTag("beacon");
  for (auto stream : std::vector<std::function<std::string(const std::string&)>>{
           [](const std::string& real) { return real + "1"; },  // another inode
           [](const std::string& real) { return "1" + real; },  // another device
           [](const std::string&) { return "x:y"; },
           [](const std::string&) { return ""; }}) {
    const std::string text = WithStderrIn(dir.path + "/stderr", stream, [] {
      CHECK_FALSE(common::UseJournalIfConnected());
      common::LogWarn("w");
    });
    // "2026-11-22T16:00:00Z WARN beacon: w"
    CHECK(text.size() > 21);
    CHECK(text.substr(0, 1) != "<");
    CHECK(text.find("Z WARN beacon: w\n") == 19);
  }
}

TEST_CASE("log: the log file keeps its time on the journal too") {
  testing_support::TempDir dir;
  common::SetLogTag("client");
  common::SetLogFile(dir.path + "/client.log", 1 << 20);
  (void)WithStderrIn(dir.path + "/stderr", [](const std::string& real) { return real; }, [] {
    REQUIRE(common::UseJournalIfConnected());
    common::LogWarn("w");
  });
  common::SetLogFile("", 0);
  std::ifstream in(dir.path + "/client.log");
  std::string line;
  std::getline(in, line);
  CHECK(line.find("Z WARN client: w") == 19);
}
