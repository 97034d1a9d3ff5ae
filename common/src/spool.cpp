#include "common/spool.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <sstream>

#include "common/config.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/uuid.h"

namespace common {
namespace {

constexpr char kMagic[] = "BSPOOL";
constexpr int kVersion = 1;
constexpr uint64_t kMaxHeader = 4096;

bool ParseU64(const std::string& s, uint64_t* out) {
  int64_t v = 0;
  if (!ParseDecimal(s, &v)) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

Status ValidateMeta(const SpoolMeta& m) {
  if (!IsUuid(m.id)) return InvalidArgument("upload id is not a UUID");
  if (!IsUuid(m.device)) return InvalidArgument("device id is not a UUID");
  if (!IsToken(m.kind, 32)) return InvalidArgument("bad upload kind");
  if (!IsHexDigest(m.sha256)) return InvalidArgument("sha256 is not 64 lower-case hex digits");
  if (!m.via.empty() && !IsToken(m.via)) return InvalidArgument("bad beacon name");
  if (!m.client_version.empty() && !IsToken(m.client_version)) {
    return InvalidArgument("bad client version");
  }
  if (m.policy_revision < 0) return InvalidArgument("negative policy revision");
  return Status::Ok();
}

}  // namespace

std::string EncodeSpoolHeader(const SpoolMeta& m) {
  std::ostringstream h;
  h << "id=" << m.id << "\n"
    << "device=" << m.device << "\n"
    << "kind=" << m.kind << "\n"
    << "sha256=" << m.sha256 << "\n"
    << "size=" << m.size << "\n"
    << "received_at=" << m.received_at << "\n"
    << "via=" << m.via << "\n"
    << "client_version=" << m.client_version << "\n"
    << "policy_revision=" << m.policy_revision << "\n";
  std::string header = h.str();
  return std::string(kMagic) + " " + std::to_string(kVersion) + " " +
         std::to_string(header.size()) + " " + Sha256Hex(header) + "\n" + header;
}

StatusOr<SpoolMeta> DecodeSpoolHeader(const std::string& data, uint64_t* body_offset) {
  size_t nl = data.find('\n');
  if (nl == std::string::npos || nl > 128) return DataLoss("no spool preamble line");
  std::istringstream pre(data.substr(0, nl));
  std::string magic, version, len_s, digest;
  pre >> magic >> version >> len_s >> digest;
  if (magic != kMagic) return DataLoss("bad magic");
  if (version != std::to_string(kVersion)) return DataLoss("unsupported spool version " + version);
  uint64_t len = 0;
  if (!ParseU64(len_s, &len) || len > kMaxHeader) return DataLoss("bad header length");
  if (data.size() < nl + 1 + len) return DataLoss("truncated header");
  std::string header = data.substr(nl + 1, len);
  if (Sha256Hex(header) != digest) return DataLoss("header checksum mismatch");
  SpoolMeta m;
  std::istringstream in(header);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) return DataLoss("bad header line");
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    uint64_t n = 0;
    if (k == "id") m.id = v;
    else if (k == "device") m.device = v;
    else if (k == "kind") m.kind = v;
    else if (k == "sha256") m.sha256 = v;
    else if (k == "size") { if (!ParseU64(v, &m.size)) return DataLoss("bad size"); }
    else if (k == "received_at") { if (!ParseU64(v, &n)) return DataLoss("bad time"); m.received_at = static_cast<int64_t>(n); }
    else if (k == "via") m.via = v;
    else if (k == "client_version") m.client_version = v;
    else if (k == "policy_revision") { if (!ParseU64(v, &n)) return DataLoss("bad revision"); m.policy_revision = static_cast<int64_t>(n); }
    // Unknown keys are skipped so that a newer writer's extra metadata does
    // not make entries undeliverable after a downgrade.
  }
  Status st = ValidateMeta(m);
  if (!st.ok()) return DataLoss("bad metadata: " + st.message());
  *body_offset = nl + 1 + len;
  return m;
}

// ---- Writer ----

struct Spool::Writer::Impl {
  Spool* spool;
  SpoolMeta meta;
  std::string tmp_path;
  int fd;
  Sha256 hash;
  uint64_t body_offset;
  uint64_t written = 0;
  bool done = false;
};

Spool::Writer::Writer(Spool* spool, SpoolMeta meta, std::string tmp_path, int fd,
                      uint64_t body_offset)
    : impl_(new Impl{spool, std::move(meta), std::move(tmp_path), fd, {}, body_offset, 0, false}) {}

Spool::Writer::~Writer() {
  if (impl_->fd >= 0) ::close(impl_->fd);
  if (!impl_->done) ::unlink(impl_->tmp_path.c_str());
  // A committed body moved from reserved to ready bytes in FinishCommit.
  impl_->spool->Release(impl_->meta.id, impl_->done ? 0 : impl_->meta.size);
}

Status Spool::Writer::Append(const char* data, size_t len) {
  if (impl_->done) return FailedPrecondition("writer already committed");
  if (impl_->written + len > impl_->meta.size) {
    return InvalidArgument("body is longer than its declared size");
  }
  impl_->hash.Update(data, len);
  impl_->written += len;
  return WriteAll(impl_->fd, data, len, impl_->tmp_path);
}

Status Spool::Writer::Commit() {
  Impl& w = *impl_;
  if (w.done) return FailedPrecondition("writer already committed");
  if (w.written != w.meta.size) {
    return InvalidArgument("body has " + std::to_string(w.written) + " bytes, expected " +
                           std::to_string(w.meta.size));
  }
  std::string digest = w.hash.HexDigest();
  if (digest != w.meta.sha256) return InvalidArgument("body SHA-256 does not match the declared digest");
  if (::fsync(w.fd) != 0) return ErrnoStatus("fsync " + w.tmp_path, errno);
  ::close(w.fd);
  w.fd = -1;
  Status st = w.spool->FinishCommit(w.meta, w.tmp_path, w.body_offset);
  if (st.ok()) w.done = true;
  return st;
}

// ---- Spool ----

Spool::~Spool() = default;

StatusOr<std::unique_ptr<Spool>> Spool::Open(const Options& options) {
  std::unique_ptr<Spool> s(new Spool(options));
  for (const char* sub : {"incoming", "ready", "rejected"}) {
    RETURN_IF_ERROR(MakeDirs(options.dir + "/" + sub, 0700));
  }
  // Bodies in incoming/ were never acknowledged: their senders will retry.
  ASSIGN_OR_RETURN(auto incoming, ListDir(options.dir + "/incoming"));
  for (const auto& name : incoming) ::unlink((options.dir + "/incoming/" + name).c_str());
  RETURN_IF_ERROR(SyncDir(options.dir + "/incoming"));
  RETURN_IF_ERROR(s->Scan());
  return s;
}

Status Spool::Scan() {
  ASSIGN_OR_RETURN(auto names, ListDir(options_.dir + "/ready"));
  std::vector<Entry> found;
  for (const auto& name : names) {
    std::string path = options_.dir + "/ready/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string buf(kMaxHeader + 256, '\0');
    ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
    struct stat sb {};
    ::fstat(fd, &sb);
    ::close(fd);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    uint64_t off = 0;
    auto meta = DecodeSpoolHeader(buf, &off);
    Status bad;
    if (!meta.ok()) {
      bad = meta.status();
    } else if (name != meta->id + ".upl") {
      bad = DataLoss("file name does not match upload id");
    } else if (static_cast<uint64_t>(sb.st_size) != off + meta->size) {
      bad = DataLoss("file length does not match header");
    }
    if (!bad.ok()) {
      LogError("spool: quarantining ready/" + name + ": " + bad.message());
      std::string dst = RejectedPath(name);
      if (::rename(path.c_str(), dst.c_str()) != 0) return ErrnoStatus("quarantine " + name, errno);
      (void)WriteFileAtomic(dst + ".reason", bad.ToString() + "\n");
      continue;
    }
    found.push_back(Entry{*meta, 0, off});
  }
  std::sort(found.begin(), found.end(), [](const Entry& a, const Entry& b) {
    return a.meta.received_at != b.meta.received_at ? a.meta.received_at < b.meta.received_at
                                                    : a.meta.id < b.meta.id;
  });
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& e : found) {
    e.seq = seq_++;
    bytes_ += e.meta.size;
    std::string id = e.meta.id;
    entries_.emplace(id, std::move(e));
  }
  return SyncDir(options_.dir + "/rejected");
}

std::string Spool::RejectedPath(const std::string& name) const {
  // Never replace an earlier rejected file of the same name: both are evidence.
  std::string base = options_.dir + "/rejected/" + name;
  std::string path = base;
  struct stat sb {};
  for (int n = 1; ::lstat(path.c_str(), &sb) == 0; ++n) path = base + "." + std::to_string(n);
  return path;
}

std::string Spool::ReadyPath(const std::string& id) const {
  return options_.dir + "/ready/" + id + ".upl";
}

StatusOr<std::unique_ptr<Spool::Writer>> Spool::Begin(SpoolMeta meta) {
  RETURN_IF_ERROR(ValidateMeta(meta));
  if (meta.received_at == 0) meta.received_at = static_cast<int64_t>(::time(nullptr));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(meta.id)) return AlreadyExists("upload " + meta.id + " is already stored");
    // A second sender of the same id (a client retrying after a timeout) must
    // not be told "stored" while the first copy is not durable yet.
    if (receiving_.count(meta.id)) return Unavailable("upload " + meta.id + " is being received");
    if (bytes_ + reserved_ + meta.size > options_.max_bytes) {
      return Unavailable("spool is full (" + std::to_string(bytes_ + reserved_) + " of " +
                               std::to_string(options_.max_bytes) + " bytes)");
    }
    reserved_ += meta.size;
    receiving_.insert(meta.id);
  }
  auto free_bytes = FreeBytes(options_.dir);
  if (!free_bytes.ok() || *free_bytes < options_.min_free_bytes + meta.size) {
    Release(meta.id, meta.size);
    return ResourceExhausted("disk holding the spool is short of space");
  }
  static std::atomic<uint64_t> counter{0};
  std::string tmp = options_.dir + "/incoming/" + meta.id + "." + std::to_string(::getpid()) +
                    "." + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    Release(meta.id, meta.size);
    return ErrnoStatus("create " + tmp, errno);
  }
  std::string header = EncodeSpoolHeader(meta);
  Status st = WriteAll(fd, header.data(), header.size(), tmp);
  if (!st.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    Release(meta.id, meta.size);
    return st;
  }
  return std::unique_ptr<Writer>(new Writer(this, std::move(meta), std::move(tmp), fd, header.size()));
}

void Spool::Release(const std::string& id, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  reserved_ -= std::min(reserved_, bytes);
  receiving_.erase(id);
}

Status Spool::FinishCommit(const SpoolMeta& meta, const std::string& tmp_path, uint64_t body_offset) {
  std::string dst = ReadyPath(meta.id);
  // RENAME_NOREPLACE: two concurrent uploads of one id must not overwrite
  // each other; the loser learns the id is already stored.
  if (::renameat2(AT_FDCWD, tmp_path.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    ::unlink(tmp_path.c_str());
    if (err == EEXIST) return AlreadyExists("upload " + meta.id + " is already stored");
    return ErrnoStatus("rename into ready/", err);
  }
  Status synced = SyncDir(options_.dir + "/ready");
  if (!synced.ok()) {
    // Not durable, so not acknowledged: take it back so that the sender's
    // retry is stored afresh instead of colliding with an unindexed file.
    ::unlink(dst.c_str());
    return synced;
  }
  std::lock_guard<std::mutex> lock(mu_);
  entries_[meta.id] = Entry{meta, seq_++, body_offset};
  bytes_ += meta.size;
  reserved_ -= std::min(reserved_, meta.size);
  ++generation_;
  cv_.notify_all();
  return Status::Ok();
}

Status Spool::Put(SpoolMeta meta, const std::string& body) {
  meta.size = body.size();
  meta.sha256 = Sha256Hex(body);
  ASSIGN_OR_RETURN(auto writer, Begin(meta));
  RETURN_IF_ERROR(writer->Append(body.data(), body.size()));
  return writer->Commit();
}

bool Spool::Contains(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count(id) > 0;
}

std::vector<SpoolMeta> Spool::List() const {
  std::vector<const Entry*> es;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : entries_) es.push_back(&e);
  std::sort(es.begin(), es.end(), [](const Entry* a, const Entry* b) { return a->seq < b->seq; });
  std::vector<SpoolMeta> out;
  for (const Entry* e : es) out.push_back(e->meta);
  return out;
}

size_t Spool::Count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

uint64_t Spool::Bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

StatusOr<std::string> Spool::ReadBody(const std::string& id, uint64_t offset, uint64_t len) const {
  uint64_t body_offset = 0, size = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return NotFound("no spool entry " + id);
    body_offset = it->second.body_offset;
    size = it->second.meta.size;
  }
  if (offset > size || len > size - offset) return InvalidArgument("read past end of body");
  int fd = ::open(ReadyPath(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open spool entry " + id, errno);
  std::string out(len, '\0');
  uint64_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, out.data() + got, len - got, static_cast<off_t>(body_offset + offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return DataLoss("spool entry " + id + " is shorter than its header says");
    }
    got += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return out;
}

StatusOr<std::string> Spool::ReadWholeBody(const std::string& id, uint64_t max_bytes) const {
  SpoolMeta meta;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return NotFound("no spool entry " + id);
    meta = it->second.meta;
  }
  if (meta.size > max_bytes) return ResourceExhausted("spool entry " + id + " is too large");
  ASSIGN_OR_RETURN(std::string body, ReadBody(id, 0, meta.size));
  if (Sha256Hex(body) != meta.sha256) return DataLoss("spool entry " + id + " fails its SHA-256");
  return body;
}

Status Spool::Remove(const std::string& id) {
  if (!Contains(id)) return NotFound("no spool entry " + id);
  // The file goes first: if that fails, the entry stays indexed and counted.
  if (::unlink(ReadyPath(id).c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("unlink spool entry " + id, errno);
  }
  Forget(id);
  return SyncDir(options_.dir + "/ready");
}

Status Spool::Reject(const std::string& id, const std::string& reason) {
  if (!Contains(id)) return NotFound("no spool entry " + id);
  std::string dst = RejectedPath(id + ".upl");
  if (::rename(ReadyPath(id).c_str(), dst.c_str()) != 0) return ErrnoStatus("reject " + id, errno);
  Forget(id);
  RETURN_IF_ERROR(WriteFileAtomic(dst + ".reason", reason + "\n"));
  RETURN_IF_ERROR(SyncDir(options_.dir + "/ready"));
  LogWarn("spool: rejected " + id + ": " + reason);
  return Status::Ok();
}

void Spool::Forget(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  bytes_ -= std::min(bytes_, it->second.meta.size);
  entries_.erase(it);
}

bool Spool::WaitForWork(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t gen = generation_;
  return cv_.wait_for(lock, timeout, [&] { return generation_ != gen; });
}

void Spool::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  cv_.notify_all();
}

}  // namespace common
