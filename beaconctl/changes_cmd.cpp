#include "changes_cmd.h"

#include <CLI/CLI.hpp>

#include <ostream>

#include "common/text.h"
#include "common/time.h"
#include "common/uuid.h"
#include "inventory/store.h"

namespace beaconctl {

ChangesCommand::ChangesCommand(CLI::App& app) {
  changes_ = app.add_subcommand("changes", "what changed in inventories: packages and hardware, oldest first");
  changes_->add_option("--since", since_, "from this time: RFC 3339 or YYYY-MM-DD (UTC)")->type_name("TIME");
  changes_->add_option("--device", device_, "only this device (without --since: its whole time line)")
      ->type_name("DEVICE_ID");
  format_.AddTo(*changes_);
}

bool ChangesCommand::Chosen() const { return changes_->parsed(); }

common::Status ChangesCommand::Run(inventory::Store& store, std::ostream& out) const {
  auto usage = [](const std::string& m) { return common::InvalidArgument("usage: " + m); };
  if (since_.empty() && device_.empty()) return usage("changes needs --since TIME or --device ID");
  if (!device_.empty() && !common::IsUuid(device_)) {
    return usage("'" + common::Printable(device_) + "' is not a device id (a lower-case UUID)");
  }
  int64_t since = 0;
  if (!since_.empty()) {
    auto t = common::ParseRfc3339(since_.size() == 10 ? since_ + "T00:00:00Z" : since_);
    if (!t.ok()) {
      return usage("--since '" + common::Printable(since_) + "' is not a time (2026-11-30 or 2026-11-30T08:00:00Z)");
    }
    since = *t;
  }
  ASSIGN_OR_RETURN(auto rows, store.Changes(since, device_));
  Listing l;
  l.columns = {{.field = "at", .header = "WHEN", .time = true},
               {.field = "device_id", .header = "DEVICE"},
               {.field = "hostname", .header = "HOSTNAME"},
               {.field = "part", .header = "PART"},
               {.field = "key", .header = "WHAT"},
               {.field = "change", .header = "CHANGE"},
               {.field = "before", .header = "BEFORE"},
               {.field = "after", .header = "AFTER"}};
  for (const auto& r : rows) {
    l.rows.push_back({Value::Time(r.at), Value::Untrusted(r.device_id), Value::Untrusted(r.hostname),
                      Value::Untrusted(r.part), Value::Untrusted(r.key), Value::Untrusted(r.change),
                      Value::Untrusted(r.before), Value::Untrusted(r.after)});
  }
  Print(out, format_.Get(), l);
  return common::Status::Ok();
}

}  // namespace beaconctl
