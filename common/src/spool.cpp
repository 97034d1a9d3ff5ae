#include "common/spool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
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
constexpr char kSuffix[] = ".upl";

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

// Removes one occurrence of `v` (the multiset of received_at values).
void EraseOne(std::multiset<int64_t>& set, int64_t v) {
  auto it = set.find(v);
  if (it != set.end()) set.erase(it);
}

}  // namespace

std::string SpoolKey(const SpoolMeta& meta) { return meta.device + "_" + meta.id; }

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
    << "policy_revision=" << m.policy_revision << "\n"
    << "seq=" << m.seq << "\n";
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
    else if (k == "seq") { if (!ParseU64(v, &m.seq)) return DataLoss("bad seq"); }
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
  std::unique_ptr<WritableFile> file;
  uint64_t body_offset;
  Sha256 hash;
  uint64_t written = 0;
  bool done = false;
};

Spool::Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Spool::Writer::~Writer() {
  Impl& w = *impl_;
  if (w.file) (void)w.file->Close();
  if (!w.done) (void)w.spool->env_->Remove(w.tmp_path);
  // A committed body moved from reserved to ready bytes in FinishCommit.
  w.spool->Release(SpoolKey(w.meta), w.done ? 0 : w.meta.size);
}

const SpoolMeta& Spool::Writer::meta() const { return impl_->meta; }

Status Spool::Writer::Append(const char* data, size_t len) {
  Impl& w = *impl_;
  if (w.done || !w.file) return FailedPrecondition("writer already committed");
  if (w.written + len > w.meta.size) return InvalidArgument("body is longer than its declared size");
  w.hash.Update(data, len);
  w.written += len;
  return w.file->Append(std::string_view(data, len));
}

Status Spool::Writer::Commit() {
  Impl& w = *impl_;
  if (w.done || !w.file) return FailedPrecondition("writer already committed");
  if (w.written != w.meta.size) {
    return InvalidArgument("body has " + std::to_string(w.written) + " bytes, expected " +
                           std::to_string(w.meta.size));
  }
  if (w.hash.HexDigest() != w.meta.sha256) {
    return InvalidArgument("body SHA-256 does not match the declared digest");
  }
  RETURN_IF_ERROR(w.file->Sync());
  Status closed = w.file->Close();
  w.file.reset();
  RETURN_IF_ERROR(closed);
  Status st = w.spool->FinishCommit(w.meta, w.tmp_path, w.body_offset);
  if (st.ok()) w.done = true;
  return st;
}

// ---- Spool ----

Spool::Spool(Options options)
    : options_(std::move(options)), env_(options_.env != nullptr ? options_.env : Env::Default()) {}
Spool::~Spool() = default;

StatusOr<std::unique_ptr<Spool>> Spool::Open(const Options& options) {
  std::unique_ptr<Spool> s(new Spool(options));
  for (const char* sub : {"incoming", "ready", "rejected"}) {
    RETURN_IF_ERROR(s->env_->MakeDirs(options.dir + "/" + sub, 0700));
  }
  RETURN_IF_ERROR(s->Reload());
  return s;
}

Status Spool::Reload() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.clear();
    received_.clear();
    bytes_ = 0;
    rejected_bytes_ = 0;
  }
  // Bodies in incoming/ were never acknowledged: their senders will retry.
  ASSIGN_OR_RETURN(auto incoming, env_->ListDir(options_.dir + "/incoming"));
  for (const auto& name : incoming) (void)env_->Remove(options_.dir + "/incoming/" + name);
  RETURN_IF_ERROR(env_->SyncDir(options_.dir + "/incoming"));
  return Scan();
}

void Spool::Quarantine(const std::string& name, const Status& why) {
  LogError("spool " + options_.dir + ": quarantining ready/" + name + ": " + why.message());
  std::string dst = RejectedPath(name);
  auto size = env_->FileSize(options_.dir + "/ready/" + name);
  Status moved = env_->Rename(options_.dir + "/ready/" + name, dst);
  if (moved.ok() && size.ok()) rejected_bytes_ += *size;
  if (!moved.ok()) {
    // It stays where it is; a sender's retry of the same upload replaces
    // it (FinishCommit), and every restart reports it again.
    LogError("spool " + options_.dir + ": cannot quarantine ready/" + name + ": " + moved.message());
    return;
  }
  Status reason = WriteFileAtomic(dst + ".reason", why.ToString() + "\n", 0600, env_);
  if (!reason.ok()) LogError("spool " + options_.dir + ": " + reason.ToString());
}

Status Spool::Scan() {
  const std::string ready = options_.dir + "/ready";
  ASSIGN_OR_RETURN(auto rejected, env_->ListDir(options_.dir + "/rejected"));
  for (const auto& name : rejected) {
    auto size = env_->FileSize(options_.dir + "/rejected/" + name);
    if (size.ok()) rejected_bytes_ += *size;
  }
  ASSIGN_OR_RETURN(auto names, env_->ListDir(ready));
  std::vector<Entry> found;
  for (const auto& name : names) {
    const std::string path = ready + "/" + name;
    auto head = env_->ReadAt(path, 0, kMaxHeader + 256);
    auto size = env_->FileSize(path);
    if (!head.ok() || !size.ok()) {
      // Not proven bad, so never quarantined (EACCES after a run as root,
      // EMFILE, EIO): it stays where it is, reported at every start, and a
      // sender's resend of the same upload replaces it (FinishCommit).
      LogError("spool " + options_.dir + ": cannot read ready/" + name + ", left in place: " +
               (head.ok() ? size.status() : head.status()).message());
      continue;
    }
    uint64_t off = 0;
    auto meta = DecodeSpoolHeader(*head, &off);
    Status bad;
    if (!meta.ok()) {
      bad = meta.status();
    } else if (name != SpoolKey(*meta) + kSuffix && name != meta->id + kSuffix) {
      // "<id>.upl" is the name entries had before the key included the device.
      bad = DataLoss("file name does not match the entry's device and upload id");
    } else if (*size != off + meta->size) {
      bad = DataLoss("file length does not match header");
    }
    if (!bad.ok()) {
      Quarantine(name, bad);
      continue;
    }
    found.push_back(Entry{*meta, name, off});
  }
  // Entries from before `seq` existed (0) go first, in the order they were
  // received; a clock step can only misorder those.
  std::sort(found.begin(), found.end(), [](const Entry& a, const Entry& b) {
    if (a.meta.seq != b.meta.seq) return a.meta.seq < b.meta.seq;
    if (a.meta.received_at != b.meta.received_at) return a.meta.received_at < b.meta.received_at;
    return a.file < b.file;
  });
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& e : found) {
    std::string key = SpoolKey(e.meta);
    if (entries_.count(key)) {  // a legacy name and a new name of one upload
      Quarantine(e.file, DataLoss("a second copy of " + key));
      continue;
    }
    next_seq_ = std::max(next_seq_, e.meta.seq + 1);
    bytes_ += e.meta.size;
    received_.insert(e.meta.received_at);
    entries_.emplace(std::move(key), std::move(e));
  }
  // Quarantines moved names out of ready/ into rejected/.
  RETURN_IF_ERROR(env_->SyncDir(ready));
  return env_->SyncDir(options_.dir + "/rejected");
}

std::string Spool::RejectedPath(const std::string& name) const {
  // Never replace an earlier rejected file of the same name: both are evidence.
  std::string base = options_.dir + "/rejected/" + name;
  std::string path = base;
  for (int n = 1; env_->FileSize(path).ok(); ++n) path = base + "." + std::to_string(n);
  return path;
}

StatusOr<std::unique_ptr<Spool::Writer>> Spool::Begin(SpoolMeta meta) {
  RETURN_IF_ERROR(ValidateMeta(meta));
  if (meta.received_at == 0) meta.received_at = env_->NowSeconds();
  const std::string key = SpoolKey(meta);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(key)) return AlreadyExists("upload " + key + " is already stored");
    // A second sender of the same upload (a client retrying after a
    // timeout) must not be told "stored" while the first copy is not
    // durable yet.
    if (receiving_.count(key)) return Unavailable("upload " + key + " is being received");
    if (entries_.size() + receiving_.size() >= options_.max_files) {
      return Unavailable("spool holds its maximum of " + std::to_string(options_.max_files) + " uploads");
    }
    if (bytes_ + reserved_ + meta.size > options_.max_bytes) {
      return Unavailable("spool is full (" + std::to_string(bytes_ + reserved_) + " of " +
                         std::to_string(options_.max_bytes) + " bytes)");
    }
    reserved_ += meta.size;
    receiving_.insert(key);
    meta.seq = next_seq_++;
  }
  auto free_bytes = env_->FreeBytes(options_.dir);
  if (!free_bytes.ok() || *free_bytes < options_.min_free_bytes + meta.size) {
    Release(key, meta.size);
    return ResourceExhausted("disk holding the spool is short of space");
  }
  static std::atomic<uint64_t> counter{0};
  std::string tmp = options_.dir + "/incoming/" + key + "." + std::to_string(::getpid()) + "." +
                    std::to_string(counter++);
  auto file = env_->NewWritableFile(tmp, 0600, /*exclusive=*/true);
  if (!file.ok()) {
    Release(key, meta.size);
    return file.status();
  }
  std::string header = EncodeSpoolHeader(meta);
  Status st = (*file)->Append(header);
  if (!st.ok()) {
    (void)(*file)->Close();
    (void)env_->Remove(tmp);
    Release(key, meta.size);
    return st;
  }
  auto impl = std::make_unique<Writer::Impl>();
  impl->spool = this;
  impl->meta = std::move(meta);
  impl->tmp_path = std::move(tmp);
  impl->file = std::move(file).value();
  impl->body_offset = header.size();
  return std::unique_ptr<Writer>(new Writer(std::move(impl)));
}

void Spool::Release(const std::string& key, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  reserved_ -= std::min(reserved_, bytes);
  receiving_.erase(key);
}

Status Spool::FinishCommit(const SpoolMeta& meta, const std::string& tmp_path, uint64_t body_offset) {
  const std::string key = SpoolKey(meta);
  const std::string file = key + kSuffix;
  const std::string dst = options_.dir + "/ready/" + file;
  Status renamed = env_->RenameNoReplace(tmp_path, dst);
  if (renamed.code() == Code::kAlreadyExists) {
    // Not indexed (Begin checked, and no other writer of this key is alive),
    // so it is a leftover: a commit whose directory sync failed, or a file
    // that could not be read or quarantined at start-up. This copy is whole
    // and verified: it takes the name.
    LogWarn("spool " + options_.dir + ": replacing the unindexed ready/" + file);
    renamed = env_->Rename(tmp_path, dst);
  }
  if (!renamed.ok()) {
    (void)env_->Remove(tmp_path);
    return renamed;
  }
  Status synced = env_->SyncDir(options_.dir + "/ready");
  if (!synced.ok()) {
    // Not durable, so not acknowledged: take it back so that the sender's
    // retry is stored afresh.
    (void)env_->Remove(dst);
    return synced;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto old = entries_.find(key); old != entries_.end()) {
    EraseOne(received_, old->second.meta.received_at);
  }
  entries_[key] = Entry{meta, file, body_offset};
  received_.insert(meta.received_at);
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

bool Spool::Contains(const std::string& device, const std::string& id) const {
  SpoolMeta m;
  m.device = device;
  m.id = id;
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count(SpoolKey(m)) > 0;
}

std::vector<SpoolMeta> Spool::List() const {
  std::vector<SpoolMeta> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.reserve(entries_.size());
    for (const auto& [key, e] : entries_) out.push_back(e.meta);
  }
  std::sort(out.begin(), out.end(), [](const SpoolMeta& a, const SpoolMeta& b) {
    return a.seq != b.seq ? a.seq < b.seq : SpoolKey(a) < SpoolKey(b);
  });
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

Spool::Stats Spool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats out;
  out.entries = entries_.size();
  out.bytes = bytes_;
  out.oldest_received_at = received_.empty() ? 0 : *received_.begin();
  out.receiving = receiving_.size();
  out.rejected_bytes = rejected_bytes_;
  return out;
}

StatusOr<Spool::Entry> Spool::Find(const SpoolMeta& entry) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(SpoolKey(entry));
  if (it == entries_.end()) return NotFound("no spool entry " + SpoolKey(entry));
  return it->second;
}

StatusOr<std::string> Spool::ReadBody(const SpoolMeta& entry, uint64_t offset, uint64_t len) const {
  ASSIGN_OR_RETURN(Entry e, Find(entry));
  if (offset > e.meta.size || len > e.meta.size - offset) return InvalidArgument("read past end of body");
  ASSIGN_OR_RETURN(std::string out, env_->ReadAt(options_.dir + "/ready/" + e.file, e.body_offset + offset, len));
  if (out.size() != len) return DataLoss("spool entry " + e.file + " is shorter than its header says");
  return out;
}

StatusOr<std::string> Spool::ReadWholeBody(const SpoolMeta& entry, uint64_t max_bytes) const {
  ASSIGN_OR_RETURN(Entry e, Find(entry));
  if (e.meta.size > max_bytes) return ResourceExhausted("spool entry " + e.file + " is too large");
  ASSIGN_OR_RETURN(std::string body, ReadBody(entry, 0, e.meta.size));
  if (Sha256Hex(body) != e.meta.sha256) return DataLoss("spool entry " + e.file + " fails its SHA-256");
  return body;
}

Status Spool::Remove(const SpoolMeta& entry) {
  ASSIGN_OR_RETURN(Entry e, Find(entry));
  // The file goes first: if that fails, the entry stays indexed and counted.
  Status removed = env_->Remove(options_.dir + "/ready/" + e.file);
  if (!removed.ok() && removed.code() != Code::kNotFound) return removed;
  Forget(SpoolKey(e.meta));
  return env_->SyncDir(options_.dir + "/ready");
}

Status Spool::Reject(const SpoolMeta& entry, const std::string& reason) {
  ASSIGN_OR_RETURN(Entry e, Find(entry));
  const std::string src = options_.dir + "/ready/" + e.file;
  const std::string dst = RejectedPath(e.file);
  const uint64_t file_size = e.body_offset + e.meta.size;
  uint64_t rejected_bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rejected_bytes = rejected_bytes_;
  }
  const bool cut = rejected_bytes + file_size > options_.max_rejected_bytes;
  // The reason first: a rejected entry never lacks one.
  RETURN_IF_ERROR(WriteFileAtomic(dst + ".reason",
                                  reason + (cut ? " (kept: the header and the first 4 KiB of the body; rejected/ "
                                                  "holds its maximum of " +
                                                      std::to_string(options_.max_rejected_bytes) + " bytes)"
                                                : "") +
                                      "\n",
                                  0600, env_));
  uint64_t kept = file_size;
  if (cut) {
    ASSIGN_OR_RETURN(std::string head, env_->ReadAt(src, 0, e.body_offset + std::min<uint64_t>(e.meta.size, 4096)));
    RETURN_IF_ERROR(WriteFileAtomic(dst, head, 0600, env_));
    Status removed = env_->Remove(src);
    if (!removed.ok() && removed.code() != Code::kNotFound) return removed;
    kept = head.size();
  } else {
    RETURN_IF_ERROR(env_->Rename(src, dst));
  }
  Forget(SpoolKey(e.meta));
  {
    std::lock_guard<std::mutex> lock(mu_);
    rejected_bytes_ += kept;
  }
  RETURN_IF_ERROR(env_->SyncDir(options_.dir + "/rejected"));
  RETURN_IF_ERROR(env_->SyncDir(options_.dir + "/ready"));
  LogWarn("spool " + options_.dir + ": rejected " + e.file + ": " + reason);
  return Status::Ok();
}

void Spool::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  bytes_ -= std::min(bytes_, it->second.meta.size);
  EraseOne(received_, it->second.meta.received_at);
  entries_.erase(it);
}

uint64_t Spool::Generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

bool Spool::WaitForWork(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return generation_ != seen; });
}

void Spool::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  cv_.notify_all();
}

}  // namespace common
