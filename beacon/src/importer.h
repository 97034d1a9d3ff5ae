// The central's importer: the one writer of the store.
//
// Takes ready spool entries oldest first, through the one drain loop
// (common/drain.h), and imports each in one store transaction together with
// its (device, upload id), then deletes the entry. An upload already
// imported (a relayed duplicate) is deleted without changing the store.
// Bodies that cannot be parsed go to rejected/ with the reason; an entry
// that cannot be read is held back alone; a failing store (busy, disk full)
// backs the whole queue off.
#pragma once

#include <functional>
#include <string>

#include "checkins.h"
#include "common/drain.h"
#include "common/spool.h"
#include "enroller.h"
#include "inventory/store.h"

namespace beacon {

// The largest upload the importer reads; a beacon accepts no larger one
// (max_upload_size), so nothing acknowledged is too large to import.
inline constexpr uint64_t kMaxImportBody = 256u << 20;

// Parses and imports one body; the returned Status decides its fate
// (Classify()): AlreadyExists for an upload imported before, InvalidArgument
// for a body that can never be imported. Enrollment and renewal requests go
// to `enroller` (FailedPrecondition without one).
common::Status ImportBody(inventory::Store& store, const common::SpoolMeta& meta, const std::string& body,
                          const Enroller* enroller = nullptr);

// Reads the entry (verifying its digest) and imports it. A read failure is
// about this entry only (Attempt scope kEntry).
common::Attempt ImportEntry(inventory::Store& store, const common::Spool& spool,
                            const common::SpoolMeta& meta, const Enroller* enroller = nullptr);

// The importer's drain loop. After each imported inventory it calls
// `imported_inventory` with the device id (its policy may change).
class Importer {
 public:
  // `enroller` may be null (then enrollment requests wait in the spool).
  Importer(common::Spool* spool, inventory::Store* store,
           std::function<void(const std::string& device)> imported_inventory, const Enroller* enroller = nullptr);
  void Run(common::StopFlag& stop) { drain_.Run(stop); }
  common::Drain::Pass RunPass() { return drain_.RunPass(); }

 private:
  common::Drain drain_;
};

}  // namespace beacon
