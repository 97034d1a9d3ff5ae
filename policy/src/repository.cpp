#include "policy/repository.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sstream>

#include "common/config.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "common/text.h"
#include "common/uuid.h"

namespace policy {

using common::Status;
using common::StatusOr;

namespace {

constexpr char kMagic[] = "beacon-policy-revision 1";
constexpr uint64_t kMaxRecord = 4u << 20;
constexpr size_t kMaxMessage = 1000;

bool IsCleanLine(const std::string& s) {
  return s.size() <= kMaxMessage && common::IsValidUtf8(s) &&
         std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string Format(const Revision& r) {
  std::ostringstream out;
  out << kMagic << "\n"
      << "number " << r.number << "\n"
      << "published-at " << r.published_at << "\n"
      << "published-by " << r.author << "\n";
  if (r.rollback_of != 0) out << "rollback-of " << r.rollback_of << "\n";
  out << "message " << r.message << "\n";
  for (const auto& f : r.files) out << "file " << f.sha256 << " " << f.size << " " << f.path << "\n";
  return out.str();
}

StatusOr<Revision> Parse(const std::string& text, const std::string& source) {
  Revision r;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto bad = [&](const std::string& why) {
    return common::DataLoss(source + ":" + std::to_string(n) + ": " + why + "; the revision record is damaged");
  };
  bool have_number = false, have_at = false, have_by = false, have_message = false;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != kMagic) return bad("not a policy revision record");
      continue;
    }
    size_t sp = line.find(' ');
    std::string key = line.substr(0, sp), value = sp == std::string::npos ? "" : line.substr(sp + 1);
    auto number = [&](int64_t* out) { return common::ParseDecimal(value, out) && *out >= 0; };
    if (key == "number" && !have_number) {
      if (!number(&r.number) || r.number == 0) return bad("bad number");
      have_number = true;
    } else if (key == "published-at" && !have_at) {
      if (!number(&r.published_at)) return bad("bad published-at");
      have_at = true;
    } else if (key == "published-by" && !have_by) {
      if (!common::IsToken(value)) return bad("bad published-by");
      r.author = value;
      have_by = true;
    } else if (key == "rollback-of" && r.rollback_of == 0) {
      if (!number(&r.rollback_of) || r.rollback_of == 0) return bad("bad rollback-of");
    } else if (key == "message" && !have_message) {
      if (!IsCleanLine(value)) return bad("bad message");
      r.message = value;
      have_message = true;
    } else if (key == "file") {
      std::istringstream f(value);
      RevisionFile rf;
      std::string size;
      if (!(f >> rf.sha256 >> size >> rf.path) || !common::IsHexDigest(rf.sha256)) return bad("bad file line");
      // Paths become file names when a revision is written out (diff,
      // rollback): exactly group/name, nothing that could leave a folder.
      size_t slash = rf.path.find('/');
      if (slash == std::string::npos || !IsGroupName(rf.path.substr(0, slash)) ||
          !IsPolicyFileName(rf.path.substr(slash + 1))) {
        return bad("bad file path");
      }
      int64_t sz = 0;
      if (!common::ParseDecimal(size, &sz)) return bad("bad file size");
      rf.size = static_cast<uint64_t>(sz);
      if (!r.files.empty() && r.files.back().path >= rf.path) return bad("files out of order");
      r.files.push_back(std::move(rf));
    } else {
      return bad("unexpected line");
    }
  }
  if (!have_number || !have_at || !have_by || !have_message) {
    return common::DataLoss(source + ": incomplete policy revision record");
  }
  return r;
}

// Revision records are named by their number, without leading zeros.
bool RecordNumber(const std::string& name, int64_t* out) {
  return !name.empty() && name[0] != '0' && common::ParseDecimal(name, out);
}

}  // namespace

PolicyRepository::PolicyRepository(std::string dir, common::Env* env)
    : dir_(std::move(dir)), env_(env != nullptr ? env : common::Env::Default()), objects_(dir_ + "/objects", env_) {}

Status PolicyRepository::Init() const {
  RETURN_IF_ERROR(objects_.Init());
  return env_->MakeDirs(dir_ + "/revisions", 0755);
}

StatusOr<int64_t> PolicyRepository::Floor() const {
  // Written by centrals that published their folder on their own, before
  // revisions were records: "<revision> <sha256>".
  const std::string path = dir_ + "/policy-revision";
  auto text = env_->ReadFile(path, 4096);
  if (!text.ok()) return text.status().code() == common::Code::kNotFound ? StatusOr<int64_t>(0) : text.status();
  int64_t floor = 0;
  std::string first = text->substr(0, text->find(' '));
  if (!common::ParseDecimal(first, &floor)) return common::DataLoss(path + ": not '<revision> <sha256>'");
  return floor;
}

StatusOr<int64_t> PolicyRepository::Latest() const {
  ASSIGN_OR_RETURN(auto names, env_->ListDir(dir_ + "/revisions"));
  int64_t latest = 0;
  for (const auto& name : names) {
    int64_t n = 0;
    if (RecordNumber(name, &n)) latest = std::max(latest, n);
  }
  return latest;
}

StatusOr<Revision> PolicyRepository::Get(int64_t number) const {
  const std::string path = dir_ + "/revisions/" + std::to_string(number);
  auto text = env_->ReadFile(path, kMaxRecord);
  if (!text.ok() && text.status().code() == common::Code::kNotFound) {
    return common::NotFound("no policy revision " + std::to_string(number));
  }
  RETURN_IF_ERROR(text.status());
  ASSIGN_OR_RETURN(Revision r, Parse(*text, path));
  if (r.number != number) return common::DataLoss(path + ": records revision " + std::to_string(r.number));
  return r;
}

StatusOr<std::vector<Revision>> PolicyRepository::History() const {
  ASSIGN_OR_RETURN(int64_t latest, Latest());
  std::vector<Revision> out;
  for (int64_t n = 1; n <= latest; ++n) {
    ASSIGN_OR_RETURN(Revision r, Get(n));
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<TreeFiles> PolicyRepository::Files(const Revision& revision) const {
  TreeFiles files;
  for (const auto& f : revision.files) {
    auto data = objects_.Get(f.sha256);
    if (!data.ok()) {
      return common::DataLoss("revision " + std::to_string(revision.number) + ": " + f.path + ": " +
                              data.status().message());
    }
    files[f.path] = std::move(data).value();
  }
  return files;
}

StatusOr<Revision> PolicyRepository::Publish(const TreeFiles& tree, const std::string& source,
                                             const std::string& author, const std::string& message,
                                             int64_t rollback_of) const {
  if (!common::IsToken(author)) return common::InvalidArgument("publisher name '" + author + "' is not a login name");
  if (!IsCleanLine(message)) {
    return common::InvalidArgument("the message must be one line of UTF-8 text, at most 1000 bytes");
  }
  RETURN_IF_ERROR(PolicyTree::FromFiles(tree, source).status());

  const std::string lock_path = dir_ + "/publish.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return common::ErrnoStatus("open " + lock_path, errno);
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // closing releases the flock
  } unlock{fd};
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return common::ErrnoStatus("lock " + lock_path, errno);
  }

  Revision r;
  ASSIGN_OR_RETURN(int64_t latest, Latest());
  for (const auto& [path, data] : tree) r.files.push_back({path, common::Sha256Hex(data), data.size()});
  if (latest > 0) {
    ASSIGN_OR_RETURN(Revision newest, Get(latest));
    if (newest.files == r.files) {
      return common::FailedPrecondition("nothing to publish: revision " + std::to_string(latest) +
                                        " already has exactly these files");
    }
  }
  for (const auto& [path, data] : tree) RETURN_IF_ERROR(objects_.Put(common::Sha256Hex(data), data));
  ASSIGN_OR_RETURN(int64_t floor, Floor());
  r.number = std::max(latest, floor) + 1;
  r.published_at = static_cast<int64_t>(std::time(nullptr));
  r.author = author;
  r.message = message;
  r.rollback_of = rollback_of;
  RETURN_IF_ERROR(common::WriteFileAtomic(dir_ + "/revisions/" + std::to_string(r.number), Format(r), 0644, env_));
  return r;
}

}  // namespace policy
