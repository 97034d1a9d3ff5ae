// common/src/service.cpp: what reaches NOTIFY_SOCKET, and nothing when it is
// unset. (The executables' use of it: tests/integration/service_test.cpp.)
#include "common/service.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "support/notify_socket.h"
#include "support/temp_dir.h"

using testing_support::NotifySocket;

TEST_CASE("service: each call sends its assignment to NOTIFY_SOCKET, STATUS on one line") {
  testing_support::TempDir dir;
  NotifySocket notify(dir.path + "/notify.sock");
  ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
  common::service::Ready("serving\non port 1");
  common::service::Reloading();
  common::service::Status("two\nlines");
  common::service::Stopping();
  ::unsetenv("NOTIFY_SOCKET");
  REQUIRE(notify.WaitFor("STOPPING=1", 0, std::chrono::seconds(30)) == 3);
  const auto m = notify.messages();
  CHECK(m[0].text == "READY=1\nSTATUS=serving on port 1");
  CHECK(m[1].text.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  CHECK(m[2].text == "STATUS=two lines");
}

TEST_CASE("service: without NOTIFY_SOCKET nothing is sent and nothing fails") {
  ::unsetenv("NOTIFY_SOCKET");
  common::service::Ready();
  common::service::Reloading();
  common::service::Stopping();
  common::service::KeepAlive();
  SUCCEED();
}
