// The durable spool: the beacon's store-and-forward queue and the client's
// outbox are this same code.
//
// Layout under `dir` (format in docs/spool.md):
//   incoming/  bodies being received; anything here at Open() is a crashed
//              write and is deleted
//   ready/     durable entries "<device>_<upload-id>.upl", each a header + body
//   rejected/  entries proven bad (or unreadable at start-up), with a reason
//
// An entry is keyed by (device, upload id): the same upload id from two
// devices is two uploads. It becomes visible in ready/ only after its bytes
// are fsynced, it has been renamed into place and ready/ has been fsynced;
// once Commit() returns OK the entry survives a crash or a power cut. Every
// file-system and clock access goes through the Env of the options.
// All methods are thread-safe; WaitForWork lets one consumer sleep until an
// entry is committed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace common {

// What is known about an upload besides its body. All string fields are
// validated by Begin() (ids are UUIDs, the rest tokens), because they are used
// in file names, headers and logs.
struct SpoolMeta {
  std::string id;      // upload id (UUID)
  std::string device;  // device id (UUID)
  std::string kind;    // "inventory", "usage", "logs", "checkins"
  std::string sha256;  // hex digest the body must have
  uint64_t size = 0;   // body bytes
  int64_t received_at = 0;   // unix seconds, set when first made durable; shown, never ordered by
  std::string via;           // beacon that received it from the device ("" on a client)
  std::string client_version;
  int64_t policy_revision = 0;
  uint64_t seq = 0;  // this spool's own order (set by Begin); entries drain by it
};

// Encodes/decodes the on-disk entry header (exposed for tests and tools).
std::string EncodeSpoolHeader(const SpoolMeta& meta);
// Parses the header at the start of `data`; sets *body_offset. DataLoss when
// the magic, version, length or checksum is wrong.
StatusOr<SpoolMeta> DecodeSpoolHeader(const std::string& data, uint64_t* body_offset);

// "<device>_<id>": the entry's name in ready/ (without ".upl") and in logs.
std::string SpoolKey(const SpoolMeta& meta);

class Spool {
 public:
  struct Options {
    std::string dir;
    uint64_t max_bytes = 1ull << 30;     // ready + incoming bodies; Unavailable above
    uint64_t max_files = 100000;         // ready + incoming entries; Unavailable above
    uint64_t min_free_bytes = 64u << 20;  // keep this much of the disk free
    // Bytes rejected/ may hold. Above it a rejected entry keeps only its
    // header and the first 4 KiB of its body (its reason says so), so that
    // uploads rejected by the thousand cannot fill the disk.
    uint64_t max_rejected_bytes = 256u << 20;
    Env* env = nullptr;                   // null: Env::Default()
  };

  // Receives one body into incoming/. Destroying an uncommitted Writer deletes
  // its file. Not thread-safe itself; one Writer per request.
  class Writer {
   public:
    ~Writer();
    Status Append(const char* data, size_t len);
    // Verifies size and SHA-256 (InvalidArgument on mismatch, file removed),
    // makes the entry durable and visible. Any other error: nothing is
    // visible and nothing was acknowledged; the sender may retry.
    Status Commit();
    const SpoolMeta& meta() const;

   private:
    friend class Spool;
    struct Impl;
    explicit Writer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
  };

  // Creates the folders, deletes incoming/, indexes ready/. An entry proven
  // corrupt (bad header, length or name) is moved to rejected/ with the
  // reason; one that cannot be read is left in place unindexed (a resend of
  // it replaces it). Both are logged.
  static StatusOr<std::unique_ptr<Spool>> Open(const Options& options);
  ~Spool();

  // Forgets the index and reads the folder again as Open() does (another
  // process may have changed it; the caller holds whatever lock makes it
  // the only user now). No Writer may be alive.
  Status Reload();

  // Starts receiving. AlreadyExists if (device, id) is ready already (the
  // caller answers "stored"); Unavailable while another Writer of the same
  // key is alive (its copy is not durable yet) or when the spool holds
  // max_bytes or max_files (it drains as entries are delivered);
  // ResourceExhausted when the disk is short of min_free_bytes;
  // InvalidArgument for bad metadata.
  StatusOr<std::unique_ptr<Writer>> Begin(SpoolMeta meta);

  // Convenience: Begin + Append + Commit of an in-memory body, computing its
  // digest.
  Status Put(SpoolMeta meta, const std::string& body);

  bool Contains(const std::string& device, const std::string& id) const;
  // Ready entries, oldest first (by seq: the order they were begun).
  std::vector<SpoolMeta> List() const;
  size_t Count() const;
  uint64_t Bytes() const;

  // What the spool holds, read under one lock in O(1) (for metrics).
  struct Stats {
    size_t entries = 0;          // ready entries (Count())
    uint64_t bytes = 0;          // their body bytes (Bytes())
    // The smallest received_at among ready entries (unix seconds, when the
    // first beacon made the upload durable, so it may come from another
    // beacon's clock); 0 when the spool is empty.
    int64_t oldest_received_at = 0;
    size_t receiving = 0;        // Writers alive (bodies being received)
    uint64_t rejected_bytes = 0;  // bytes of the files in rejected/
  };
  Stats stats() const;

  // Reads up to `len` bytes of the entry's body starting at `offset`.
  // NotFound if the entry is not indexed or its file vanished; DataLoss if
  // the file is shorter than its header says; other codes for I/O errors.
  StatusOr<std::string> ReadBody(const SpoolMeta& entry, uint64_t offset, uint64_t len) const;
  // Reads a whole body (ResourceExhausted above max_bytes), verifying its
  // SHA-256 (DataLoss on mismatch).
  StatusOr<std::string> ReadWholeBody(const SpoolMeta& entry, uint64_t max_bytes) const;

  // Deletes a delivered entry (durably). A file that vanished already is
  // forgotten without error.
  Status Remove(const SpoolMeta& entry);
  // Moves an entry to rejected/ with a reason file beside it (cut to its
  // header and 4 KiB of body when rejected/ holds max_rejected_bytes).
  Status Reject(const SpoolMeta& entry, const std::string& reason);

  // A counter that changes whenever an entry is committed or Wake() is
  // called. Read it before looking at the spool, then wait with it, so that
  // nothing that happens in between is missed.
  uint64_t Generation() const;
  // Blocks until Generation() differs from `seen` or `timeout` passes;
  // false on timeout.
  bool WaitForWork(uint64_t seen, std::chrono::milliseconds timeout);
  // Wakes every WaitForWork (shutdown, or the upstream is back).
  void Wake();

  const std::string& dir() const { return options_.dir; }

 private:
  struct Entry {
    SpoolMeta meta;
    std::string file;  // name in ready/
    uint64_t body_offset;
  };

  explicit Spool(Options options);
  Status Scan();
  void Quarantine(const std::string& name, const Status& why);
  std::string RejectedPath(const std::string& name) const;
  Status FinishCommit(const SpoolMeta& meta, const std::string& tmp_path, uint64_t body_offset);
  void Release(const std::string& key, uint64_t bytes);
  StatusOr<Entry> Find(const SpoolMeta& entry) const;
  void Forget(const std::string& key);

  Options options_;
  Env* env_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t reserved_ = 0;  // bytes of bodies being received
  uint64_t bytes_ = 0;     // bytes of ready bodies
  uint64_t rejected_bytes_ = 0;  // bytes of files in rejected/
  std::map<std::string, Entry> entries_;  // by SpoolKey
  std::multiset<int64_t> received_;       // received_at of each entry in entries_
  std::set<std::string> receiving_;       // keys with a Writer alive
};

}  // namespace common
