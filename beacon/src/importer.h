// The central's importer: the one writer of the store.
//
// Takes ready spool entries oldest first, through the one drain loop
// (common/drain.h), a batch at a time, and imports each together with its
// (device, upload id), then deletes the entry. A batch is one store
// transaction with a savepoint per upload (Store::WriteBatch): one commit,
// one fsync, for up to kImportBatch uploads, and an upload that fails is
// undone alone. An upload already imported (a relayed duplicate) is deleted
// without changing the store.
// Bodies that cannot be parsed go to rejected/ with the reason; an entry
// that cannot be read is held back alone; a failing store (busy, disk full)
// backs the whole queue off.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "checkins.h"
#include "common/drain.h"
#include "common/spool.h"
#include "enroller.h"
#include "inventory/store.h"

namespace beacon {

// The largest upload the importer reads; a beacon accepts no larger one
// (max_upload_size), so nothing acknowledged is too large to import.
inline constexpr uint64_t kMaxImportBody = 256u << 20;

// The most uploads, and body bytes, in one batch.
inline constexpr size_t kImportBatch = 64;
inline constexpr uint64_t kImportBatchBytes = 64u << 20;

// Reads the entries (verifying their digests) and imports them, in one
// batch; one Attempt per entry, in order, whose Status decides its fate
// (Classify()): AlreadyExists for an upload imported before, InvalidArgument
// for a body that can never be imported. A read failure is about that entry
// only (Attempt scope kEntry). Enrollment and renewal requests go to
// `enroller` (FailedPrecondition without one), each in a transaction of its
// own. After the commit, a delta that found the store without its base
// asks the device for a full inventory (an `inventory` action).
std::vector<common::Attempt> ImportEntries(inventory::Store& store, const common::Spool& spool,
                                           const std::vector<common::SpoolMeta>& metas,
                                           const Enroller* enroller = nullptr);
// ImportEntries for one entry.
common::Attempt ImportEntry(inventory::Store& store, const common::Spool& spool,
                            const common::SpoolMeta& meta, const Enroller* enroller = nullptr);

// The importer's drain loop. After each imported inventory it calls
// `imported_inventory` with the device id (its policy may change).
class Importer {
 public:
  // `enroller` may be null (then enrollment requests wait in the spool).
  // `settled` (may be null) learns what became of each entry (metrics:
  // Drain::Options::settled).
  Importer(common::Spool* spool, inventory::Store* store,
           std::function<void(const std::string& device)> imported_inventory, const Enroller* enroller = nullptr,
           std::function<void(const common::SpoolMeta&, common::Settled)> settled = nullptr);
  void Run(common::StopFlag& stop) { drain_.Run(stop); }
  common::Drain::Pass RunPass() { return drain_.RunPass(); }

 private:
  common::Drain drain_;
};

}  // namespace beacon
