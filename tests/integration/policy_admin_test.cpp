// beaconctl policy against real folders, a real repository and, for
// targeting, a real central, relay and client.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <regex>

#include "common/sha256.h"
#include "harness.h"
#include "policy/manifest.h"

using harness::CommandResult;
using harness::Estate;
using harness::WaitUntil;
using std::chrono::seconds;

namespace {

// Writes an executable editor script; $1.. are the files beaconctl opens.
std::string Editor(const Estate& e, const std::string& name, const std::string& body) {
  std::string path = e.dir + "/" + name + ".sh";
  harness::WriteText(path, "#!/bin/sh\nset -e\n" + body + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

CommandResult Ctl(const Estate& e, const std::string& editor, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env", "VISUAL=", "EDITOR=" + editor, BEACONCTL_BIN, "--data-dir",
                                   e.dir + "/central"};
  argv.insert(argv.end(), args.begin(), args.end());
  return harness::Run(argv);
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }


}  // namespace

TEST_CASE("beaconctl policy: edit refuses a broken file, publish, history, diff, rollback") {
  Estate e;  // revision 1: the conf/policy/default samples
  const std::string policy_xml = e.dir + "/central/policy/default/policy.xml";
  const std::string original = harness::ReadText(policy_xml);

  // An edit that breaks the file: refused at its line and column, nothing changes.
  auto broken = Ctl(e, Editor(e, "break", "sed -i 's/<usage enabled=\"true\"/<usage enabled=\"maybe\"/' \"$1\""),
                    {"policy", "edit", "default", "policy.xml"});
  INFO(broken.output);
  CHECK(broken.exit_code == 1);
  size_t at = original.find("<usage enabled=");
  REQUIRE(at != std::string::npos);
  int line = 1 + static_cast<int>(std::count(original.begin(), original.begin() + static_cast<long>(at), '\n'));
  int column = static_cast<int>(at - original.rfind('\n', at));
  CHECK(Has(broken.output, e.dir + "/central/policy/default/policy.xml:" + std::to_string(line) + ":" +
                               std::to_string(column) + ": <usage> 'enabled': 'maybe' is not true or false"));
  CHECK(Has(broken.output, "the edit is refused and nothing changed"));
  // The edited copy is kept for the administrator to fix; this test removes it.
  std::smatch kept;
  REQUIRE(std::regex_search(broken.output, kept, std::regex("your copy is in (\\S+)/default")));
  CHECK(harness::ReadText(std::string(kept[1]) + "/default/policy.xml").find("enabled=\"maybe\"") != std::string::npos);
  std::filesystem::remove_all(std::string(kept[1]));
  CHECK(harness::ReadText(policy_xml) == original);
  auto history = e.PolicyCommand({"history"});
  CHECK(Has(history.output, "1        "));
  CHECK_FALSE(Has(history.output, "\n2 "));

  // A change to the folder while the editor is open is not overwritten.
  auto raced = Ctl(e, Editor(e, "race", "sed -i 's/info/warn/' \"$1\"\necho '<!-- theirs -->' >> " + e.dir +
                                           "/central/policy/default/schedule.xml"),
                   {"policy", "edit", "default", "policy.xml"});
  CHECK(raced.exit_code == 1);
  CHECK(Has(raced.output, "changed while the editor was open"));
  CHECK(harness::ReadText(policy_xml) == original);
  std::smatch raced_copy;
  REQUIRE(std::regex_search(raced.output, raced_copy, std::regex("your copy is in (\\S+)/default")));
  std::filesystem::remove_all(std::string(raced_copy[1]));
  auto schedule = harness::ReadText(e.dir + "/central/policy/default/schedule.xml");
  harness::WriteText(e.dir + "/central/policy/default/schedule.xml",
                     schedule.substr(0, schedule.rfind("<!-- theirs -->")));

  // A failing editor changes nothing either.
  auto aborted = Ctl(e, Editor(e, "fail", "exit 3"), {"policy", "edit", "default"});
  CHECK(aborted.exit_code == 1);
  CHECK(Has(aborted.output, "the editor failed (exit status 3)"));

  // A good edit changes the folder; only publishing makes it a revision.
  auto good = Ctl(e, Editor(e, "debug", "sed -i 's/<log level=\"info\"/<log level=\"debug\"/' \"$1\""),
                  {"policy", "edit", "default", "policy.xml"});
  INFO(good.output);
  CHECK(good.exit_code == 0);
  CHECK(Has(good.output, "changed default/policy.xml"));
  CHECK(Has(harness::ReadText(policy_xml), "<log level=\"debug\"/>"));
  CHECK_FALSE(Has(e.PolicyCommand({"history"}).output, "debug logs"));
  CHECK(Has(e.PolicyCommand({"publish", "-m", "debug logs"}).output, "published revision 2"));
  CHECK(Has(e.PolicyCommand({"publish"}).output, "nothing to publish: revision 2"));

  // A new group, made with the editor: its files start as templates.
  auto lab = Ctl(e, Editor(e, "lab",
                           "grep -q '<group version=\"1\" priority=\"100\">' \"$1\"\n"
                           "printf '<group version=\"1\" priority=\"5\"><everyone/></group>\\n' > \"$1\"\n"
                           "printf '<policy version=\"1\"><log level=\"error\"/></policy>\\n' > \"$2\""),
                 {"policy", "edit", "lab"});
  INFO(lab.output);
  CHECK(lab.exit_code == 0);
  CHECK(Has(lab.output, "created lab/group.xml"));
  CHECK(Has(lab.output, "created lab/policy.xml"));
  CHECK(Has(e.PolicyCommand({"publish", "-m", "lab group"}).output, "published revision 3"));

  auto diff = e.PolicyCommand({"diff", "1", "2"});
  CHECK(Has(diff.output, "-  <log level=\"info\"/>"));
  CHECK(Has(diff.output, "+  <log level=\"debug\"/>"));
  auto diff_group = e.PolicyCommand({"diff", "2", "3"});
  CHECK(Has(diff_group.output, "+++ revision-3/lab/group.xml"));
  CHECK(Has(e.PolicyCommand({"diff", "3", "3"}).output, "have the same files"));

  // Rollback refuses while the folder holds unpublished changes...
  harness::WriteText(e.dir + "/central/policy/lab/extra.txt", "unpublished\n");
  auto refused = Ctl(e, "true", {"policy", "rollback", "1"});
  CHECK(refused.exit_code == 1);
  CHECK(Has(refused.output, "has changes not yet published"));
  std::filesystem::remove(e.dir + "/central/policy/lab/extra.txt");
  // ...then publishes revision 1's files as revision 4 and restores the folder.
  auto rolled = e.PolicyCommand({"rollback", "1"});
  CHECK(Has(rolled.output, "published revision 4 with the files of revision 1"));
  CHECK(harness::ReadText(policy_xml) == original);
  CHECK_FALSE(std::filesystem::exists(e.dir + "/central/policy/lab"));
  history = e.PolicyCommand({"history"});
  INFO(history.output);
  CHECK(std::regex_search(history.output, std::regex("\\n4 +[0-9TZ:\\- ]+ +\\S+ +3 +\\(rollback to 1\\) roll back to revision 1")));
  CHECK(std::regex_search(history.output, std::regex("\\n2 .* debug logs\\n")));

  // Usage errors exit 2.
  CHECK(Ctl(e, "true", {"policy", "diff", "1"}).exit_code == 2);
  CHECK(Ctl(e, "true", {"policy", "edit", "Bad/Group"}).exit_code == 2);
  CHECK(Ctl(e, "true", {"policy", "rollback", "x"}).exit_code == 2);
  CHECK(Ctl(e, "true", {"policy", "resolve", "not-a-device"}).exit_code == 2);
  CHECK(Ctl(e, "true", {"policy", "diff", "1", "99"}).exit_code == 1);
}

TEST_CASE("targeting reaches devices: default until the first inventory, then their groups") {
  Estate e;
  char host[256] = {};
  REQUIRE(::gethostname(host, sizeof(host) - 1) == 0);
  // The lab group takes this machine by host name; its policy raises the log
  // level and asks for *.jar files under apps/ as evidence.
  harness::WriteText(e.dir + "/central/policy/lab/group.xml",
                     "<group version=\"1\" priority=\"10\">\n  <hostname glob=\"" + std::string(host) + "\"/>\n</group>\n");
  harness::WriteText(e.dir + "/central/policy/lab/policy.xml",
                     "<policy version=\"1\">\n  <log level=\"debug\"/>\n  <usage enabled=\"true\" sample-interval=\"1m\"/>\n"
                     "  <file-evidence><rule><include path=\"" + e.dir +
                         "/apps\"/><pattern glob=\"*.jar\"/></rule></file-evidence>\n</policy>\n");
  harness::WriteText(e.dir + "/apps/vendor/tool.jar", "a licensed tool\n");
  harness::WriteText(e.dir + "/apps/vendor/notes.txt", "not evidence\n");
  e.PolicyCommand({"publish", "-m", "lab"});
  e.StartCentral();
  e.StartDmz();
  std::string conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem");

  // First run: the central has no inventory of the device yet.
  auto first = e.Client(conf, {"run", "--once"});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(Has(first.output, "applied policy revision 2"));
  std::string device = e.DeviceOf("client");
  auto applied_policy = [&] {
    auto m = policy::ParseManifestXml(harness::ReadText(e.dir + "/client/policy/manifest.xml"), "applied");
    REQUIRE(m.ok());
    for (const auto& f : m->files) {
      if (f.name == "policy.xml") return harness::ReadText(e.dir + "/client/policy/files/" + f.sha256);
    }
    return std::string("(none)");
  };
  CHECK(Has(applied_policy(), "<log level=\"info\"/>"));  // default's, although the host name matches lab

  // Once its inventory is imported, the device is in lab: same revision, its own policy.
  REQUIRE(WaitUntil([&] { return e.Store()->GetDevice(device).ok() && e.Store()->GetDevice(device)->inventory_at > 0; },
                    seconds(20)));
  auto resolved = e.PolicyCommand({"resolve", device});
  INFO(resolved.output);
  CHECK(Has(resolved.output, "host " + std::string(host)));
  CHECK(Has(resolved.output, "revision 2, groups: lab default\n"));
  CHECK(std::regex_search(resolved.output, std::regex("policy.xml <log> +lab\\n")));
  CHECK(std::regex_search(resolved.output, std::regex("policy.xml <inventory> +default\\n")));
  CHECK(Has(resolved.output, "<log level=\"debug\"/>"));

  auto second = e.Client(conf, {"run", "--once"});
  INFO(second.output);
  CHECK(second.exit_code == 0);
  CHECK(Has(second.output, "applied policy revision 2"));
  CHECK(Has(applied_policy(), "<log level=\"debug\"/>"));
  CHECK(Has(second.output, "inventory collected: "));
  CHECK(Has(second.output, " 1 evidence files"));

  // The client follows lab's policy: debug logging, usage sampling, and the
  // evidence, usage and its own log reach the store.
  auto third = e.Client(conf, {"run", "--once"});
  INFO(third.output);
  CHECK(Has(third.output, "DEBUG client: GET manifest from"));
  std::smatch logs;
  REQUIRE(std::regex_search(third.output, logs, std::regex("logs queued as ([0-9a-f-]{36})")));
  REQUIRE(Has(third.output, "usage queued as "));
  const std::string client_path = std::filesystem::canonical(CLIENT_BIN).string();
  REQUIRE(WaitUntil(
      [&] {
        auto usage = e.Store()->UsageSummary(device);
        return usage.ok() && !usage->empty() && *e.Store()->HasUpload(device, logs[1]);
      },
      seconds(20)));
  auto usage = harness::Run({BEACONCTL_BIN, "--data-dir", e.dir + "/central", "usage", device});
  INFO(usage.output);
  CHECK(Has(usage.output, client_path));
  REQUIRE(WaitUntil(
      [&] {
        auto files = e.Store()->DeviceFiles(device);
        return files.ok() && files->size() == 1;
      },
      seconds(20)));
  auto listed = harness::Run({BEACONCTL_BIN, "--data-dir", e.dir + "/central", "files", device});
  INFO(listed.output);
  CHECK(listed.exit_code == 0);
  CHECK(Has(listed.output, e.dir + "/apps/vendor/tool.jar"));
  CHECK(Has(listed.output, common::Sha256Hex("a licensed tool\n")));
  CHECK_FALSE(Has(listed.output, "notes.txt"));
  // The manifest the relay passed on names this device.
  auto manifest = policy::ParseManifestXml(
      harness::ReadText(e.dir + "/dmz/policy-cache/manifests/" + device + ".xml"), "cached manifest");
  REQUIRE(manifest.ok());
  CHECK(manifest->device == device);

  // A manifest resolved for another device is refused, even though it is genuinely signed.
  std::string other_conf = e.ClientConfig(e.dmz_port, e.pki + "/ca.pem", "other");
  REQUIRE(e.Client(other_conf, {"run", "--once"}).exit_code == 0);
  std::string other = e.DeviceOf("other");
  e.StopCentral();
  e.StopDmz();
  harness::WriteText(e.dir + "/dmz/policy-cache/manifests/" + other + ".xml",
                     harness::ReadText(e.dir + "/dmz/policy-cache/manifests/" + device + ".xml"));
  e.StartDmz();
  auto swapped = e.Client(other_conf, {"run", "--once"});
  INFO(swapped.output);
  CHECK(swapped.exit_code == 1);
  CHECK(Has(swapped.output, "is for device " + device + ", not this one"));
}
