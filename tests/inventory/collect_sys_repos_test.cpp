// The repositories collector (inventory/src/collect_sys_repos.cpp) on APT
// (one-line and deb822), yum and zypper fixtures and their broken twin.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "inventory/sections.h"
#include "inventory/sys_test_util.h"

namespace {

using inventory::Item;
using inventory::Section;
using testsupport::FindSection;
using testsupport::Fixture;
using testsupport::HasNote;
using testsupport::Keys;

}  // namespace

TEST_CASE("APT repositories in both forms", "[collect][sys]") {
  const Section& s = FindSection(Fixture("root"), "repositories");
  CHECK(Keys(s) == std::vector<std::string>{
                       "deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 DVD "
                       "Binary-1 with firmware 20240210-11:28]/ bookworm",
                       "deb http://deb.debian.org/debian bookworm",
                       "deb http://deb.debian.org/debian bookworm-backports",
                       "deb http://deb.debian.org/debian bookworm-updates",
                       "deb http://ftp.example.org/flat ./",
                       "deb http://security.debian.org/debian-security bookworm-security",
                       "deb https://download.docker.com/linux/debian bookworm",
                       "deb-src http://deb.debian.org/debian bookworm",
                       "deb-src http://security.debian.org/debian-security bookworm-security"});
  const Item* main = s.Find("deb http://deb.debian.org/debian bookworm");
  CHECK(main->fields ==
        std::vector<inventory::Field>{{"type", "deb"},
                                      {"uri", "http://deb.debian.org/debian"},
                                      {"suite", "bookworm"},
                                      {"components", "main,contrib,non-free-firmware"},
                                      {"file", "/etc/apt/sources.list"},
                                      {"enabled", "true"}});
  const Item* docker = s.Find("deb https://download.docker.com/linux/debian bookworm");
  CHECK(docker->Get("signed_by") == "/etc/apt/keyrings/docker.gpg");
  CHECK(docker->Get("components") == "stable");
  const Item* updates = s.Find("deb http://deb.debian.org/debian bookworm-updates");
  CHECK(updates->Get("file") == "/etc/apt/sources.list.d/debian.sources");
  CHECK(updates->Get("signed_by") == "/usr/share/keyrings/debian-archive-keyring.gpg");
  const Item& cdrom = s.items.at(0);  // spaces inside the brackets of its URI
  CHECK(cdrom.Get("suite") == "bookworm");
  CHECK(cdrom.Get("components") == "contrib,main");
  const Item* flat = s.Find("deb http://ftp.example.org/flat ./");
  CHECK(flat->Get("enabled") == "false");
  CHECK(flat->Get("signed_by") == "embedded key");
  CHECK(flat->Get("components").empty());
  CHECK(s.notes.empty());
}

TEST_CASE("yum and zypper repositories", "[collect][sys]") {
  const Section& s = FindSection(Fixture("rhel"), "repositories");
  CHECK(
      Keys(s) ==
      std::vector<std::string>{
          "yum http://dl.rockylinux.org/$contentdir/$releasever/AppStream/$basearch/os/ appstream",
          "yum "
          "https://mirrors.fedoraproject.org/"
          "metalink?repo=epel-9&arch=$basearch&infra=$infra&content=$contentdir epel",
          "yum "
          "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype "
          "baseos",
          "yum "
          "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=Devel-$releasever$rltype "
          "devel",
          "zypp http://download.opensuse.org/distribution/leap/15.5/repo/oss/ repo-oss"});
  const Item* base = &s.items[2];
  CHECK(base->Get("name") == "Rocky Linux $releasever - BaseOS");
  CHECK(base->Get("enabled") == "true");
  CHECK(base->Get("gpgcheck") == "true");
  CHECK(base->Get("signed_by") == "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9");
  CHECK(base->Get("file") == "/etc/yum.repos.d/rocky.repo");
  CHECK(s.items[3].Get("enabled") == "false");
  CHECK(s.items[4].Get("gpgcheck").empty());
  CHECK(s.notes.empty());
}

TEST_CASE("repositories: broken lines and stanzas become notes", "[collect][sys]") {
  const Section& s = FindSection(Fixture("sys_broken"), "repositories");
  CHECK(Keys(s) == std::vector<std::string>{"deb http://good.example/debian bookworm",
                                            "deb http://ok.example/debian bookworm",
                                            "yum http://ok.example/el9/ ok"});
  CHECK(s.Find("yum http://ok.example/el9/ ok")->Get("enabled") == "true");
  for (int line : {1, 2, 3}) {
    CHECK(HasNote(s, "/etc/apt/sources.list:" + std::to_string(line) + ": not 'deb|deb-src"));
  }
  CHECK(HasNote(
      s, "/etc/apt/sources.list:5: 'deb http://ok.example/debian bookworm' configured again"));
  CHECK(HasNote(
      s, "/etc/apt/sources.list.d/broken.sources:1-3: stanza without Types, URIs or Suites"));
  CHECK(HasNote(s, "/etc/apt/sources.list.d/broken.sources:5: not 'Field: value'"));
  CHECK(HasNote(s, "/etc/yum.repos.d/broken.repo:1: not 'key=value'"));
  CHECK(HasNote(s, "/etc/yum.repos.d/broken.repo:2: [nourl] has no baseurl"));
}
