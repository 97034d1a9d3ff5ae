// The central's importer: the one writer of the store.
//
// Takes ready spool entries oldest first and imports each in one store
// transaction together with its upload id, then deletes the entry. An upload
// already imported (a relayed duplicate) is deleted without changing the
// store. Bodies that cannot be parsed go to rejected/ with the reason;
// transient store errors leave the entry for the next pass.
#pragma once

#include <functional>
#include <string>

#include "checkins.h"
#include "common/spool.h"
#include "inventory/store.h"
#include "upstream.h"

namespace beacon {

// Imports one entry; the returned Status decides its fate (Classify()).
common::Status ImportEntry(inventory::Store& store, const common::Spool& spool,
                           const common::SpoolMeta& meta);

// Loops until stopped: imports entries and, every flush_interval_s, writes the
// tracked check-ins to the store. After each imported inventory it calls
// `imported_inventory` with the device id (its policy may change).
void RunImporter(common::Spool& spool, inventory::Store& store, CheckinTracker& checkins,
                 common::StopFlag& stop, int64_t flush_interval_s,
                 const std::function<void(const std::string& device)>& imported_inventory);

}  // namespace beacon
