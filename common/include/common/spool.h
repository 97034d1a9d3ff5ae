// The durable spool: the beacon's store-and-forward queue and the client's
// outbox are this same code.
//
// Layout under `dir` (format in docs/spool.md):
//   incoming/  bodies being received; anything here at Open() is a crashed
//              write and is deleted
//   ready/     durable entries "<upload-id>.upl", each a header + body
//   rejected/  entries that cannot be delivered (corrupt, refused upstream)
//
// An entry becomes visible in ready/ only after its bytes are fsynced, it has
// been renamed into place without replacing anything (RENAME_NOREPLACE) and
// ready/ has been fsynced. Once Commit() returns OK the entry survives a crash.
// All methods are thread-safe; WaitForWork lets one consumer sleep until an
// entry is committed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

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
  int64_t received_at = 0;   // unix seconds, set when first made durable
  std::string via;           // beacon that received it from the device ("" on a client)
  std::string client_version;
  int64_t policy_revision = 0;
};

// Encodes/decodes the on-disk entry header (exposed for tests and tools).
std::string EncodeSpoolHeader(const SpoolMeta& meta);
// Parses the header at the start of `data`; sets *body_offset. DataLoss when
// the magic, version, length or checksum is wrong.
StatusOr<SpoolMeta> DecodeSpoolHeader(const std::string& data, uint64_t* body_offset);

class Spool {
 public:
  struct Options {
    std::string dir;
    uint64_t max_bytes = 1ull << 30;     // ready + incoming bodies; ResourceExhausted above
    uint64_t min_free_bytes = 64u << 20;  // keep this much of the disk free
  };

  // Receives one body into incoming/. Destroying an uncommitted Writer deletes
  // its file. Not thread-safe itself; one Writer per request.
  class Writer {
   public:
    ~Writer();
    Status Append(const char* data, size_t len);
    // Verifies size and SHA-256 (InvalidArgument on mismatch, file removed),
    // makes the entry durable and visible.
    Status Commit();

   private:
    friend class Spool;
    Writer(Spool* spool, SpoolMeta meta, std::string tmp_path, int fd, uint64_t body_offset);
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

  // Creates the folders, deletes incoming/, indexes ready/ (a corrupt entry
  // is moved to rejected/ and logged).
  static StatusOr<std::unique_ptr<Spool>> Open(const Options& options);
  ~Spool();

  // Starts receiving. AlreadyExists if the id is ready already (the caller
  // answers "stored"); Unavailable while another Writer of the same id is
  // alive (its copy is not durable yet) or when the spool holds max_bytes
  // (it drains as entries are delivered); ResourceExhausted when the disk is
  // short of min_free_bytes; InvalidArgument for bad metadata.
  StatusOr<std::unique_ptr<Writer>> Begin(SpoolMeta meta);

  // Convenience: Begin + Append + Commit of an in-memory body, computing its
  // digest.
  Status Put(SpoolMeta meta, const std::string& body);

  bool Contains(const std::string& id) const;
  // Ready entries, oldest first.
  std::vector<SpoolMeta> List() const;
  size_t Count() const;
  uint64_t Bytes() const;

  // Reads `len` bytes of the body of `id` starting at `offset`.
  StatusOr<std::string> ReadBody(const std::string& id, uint64_t offset, uint64_t len) const;
  // Reads a whole body (capped), verifying its SHA-256 (DataLoss on mismatch).
  StatusOr<std::string> ReadWholeBody(const std::string& id, uint64_t max_bytes) const;

  // Deletes a delivered entry (durably).
  Status Remove(const std::string& id);
  // Moves an entry to rejected/ with a reason file beside it.
  Status Reject(const std::string& id, const std::string& reason);

  // Blocks until an entry is committed or `timeout` passes; false on timeout.
  bool WaitForWork(std::chrono::milliseconds timeout);
  // Wakes every WaitForWork (used at shutdown).
  void Wake();

  const std::string& dir() const { return options_.dir; }

 private:
  explicit Spool(Options options) : options_(std::move(options)) {}
  Status Scan();
  std::string ReadyPath(const std::string& id) const;
  std::string RejectedPath(const std::string& name) const;
  Status FinishCommit(const SpoolMeta& meta, const std::string& tmp_path, uint64_t body_offset);
  void Release(const std::string& id, uint64_t bytes);
  void Forget(const std::string& id);

  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  uint64_t seq_ = 0;
  uint64_t reserved_ = 0;  // bytes of bodies being received
  uint64_t bytes_ = 0;     // bytes of ready bodies
  struct Entry {
    SpoolMeta meta;
    uint64_t seq;
    uint64_t body_offset;
  };
  std::map<std::string, Entry> entries_;
  std::set<std::string> receiving_;  // ids with a Writer alive
};

}  // namespace common
