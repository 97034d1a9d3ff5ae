// The rpm database: rpmdb.sqlite's Packages table, whose blobs are rpm
// headers, parsed here (rpm_header.h). Berkeley DB and ndb databases are
// recognised and reported as unsupported. See collect_software.h.
#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "collect_software.h"
#include "rpm_header.h"
#include "sqlite_conn.h"

namespace inventory {
namespace {

// Header tags we read (rpm's rpmTag_e) and the types they are stored with
// (rpmTagType_e).
enum : uint32_t {
  kTagName = 1000,
  kTagVersion = 1001,
  kTagRelease = 1002,
  kTagEpoch = 1003,
  kTagSummary = 1004,
  kTagInstallTime = 1008,
  kTagSize = 1009,
  kTagVendor = 1011,
  kTagPackager = 1015,
  kTagGroup = 1016,
  kTagArch = 1022,
  kTagLongSize = 5009,
};
enum : uint32_t {
  kTypeInt32 = 4,
  kTypeInt64 = 5,
  kTypeString = 6,
  kTypeStringArray = 8,
  kTypeI18nString = 9,
};

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

struct Entry {
  uint32_t tag = 0;
  uint32_t type = 0;
  uint32_t offset = 0;
  uint32_t count = 0;
};

common::Status Bad(const std::string& what) { return common::InvalidArgument("rpm header: " + what); }

std::string Describe(const Entry& e) { return "tag " + std::to_string(e.tag); }

// The index and data store of one header, validated as a whole; each entry
// is validated when read, so a tag we never read cannot reject a package.
class Header {
 public:
  common::Status Init(std::string_view blob) {
    if (blob.size() < 8) return Bad("shorter than its 8-byte preamble");
    const uint32_t il = Be32(blob.data());
    const uint32_t dl = Be32(blob.data() + 4);
    if (il == 0 || il > kRpmMaxIndexEntries) return Bad(std::to_string(il) + " index entries");
    if (dl > kRpmMaxDataBytes) return Bad(std::to_string(dl) + " data bytes");
    // 64-bit: il and dl are bounded above, so this cannot overflow.
    const uint64_t want = 8 + uint64_t{il} * 16 + dl;
    if (blob.size() != want) {
      return Bad("is " + std::to_string(blob.size()) + " bytes, its preamble says " + std::to_string(want));
    }
    index_ = blob.substr(8, size_t{il} * 16);
    data_ = blob.substr(8 + size_t{il} * 16);
    return common::Status::Ok();
  }

  // The first entry with `tag`; false when there is none.
  bool Find(uint32_t tag, Entry* out) const {
    for (size_t i = 0; i + 16 <= index_.size(); i += 16) {
      const char* p = index_.data() + i;
      if (Be32(p) != tag) continue;
      *out = {Be32(p), Be32(p + 4), Be32(p + 8), Be32(p + 12)};
      return true;
    }
    return false;
  }

  // The first string of a STRING, STRING_ARRAY or I18NSTRING entry ("" when
  // absent). I18NSTRING holds one string per header language, the first
  // being the untranslated "C" one that rpm -q prints by default.
  common::Status String(uint32_t tag, std::string* out) const {
    Entry e;
    if (!Find(tag, &e)) return common::Status::Ok();
    if (e.type != kTypeString && e.type != kTypeStringArray && e.type != kTypeI18nString) {
      return Bad(Describe(e) + " has type " + std::to_string(e.type) + ", not a string");
    }
    if (e.count == 0 || (e.type == kTypeString && e.count != 1)) {
      return Bad(Describe(e) + " has count " + std::to_string(e.count));
    }
    if (e.offset >= data_.size()) return Bad(Describe(e) + " points outside the data store");
    // Each of the `count` strings takes at least its NUL byte.
    if (e.count > data_.size() - e.offset) return Bad(Describe(e) + " count reaches outside the data store");
    const size_t nul = data_.find('\0', e.offset);
    if (nul == std::string_view::npos) return Bad(Describe(e) + " string is not NUL-terminated");
    out->assign(data_.substr(e.offset, nul - e.offset));
    return common::Status::Ok();
  }

  // The first value of an INT32 or INT64 entry; `*found` false when absent.
  common::Status Number(uint32_t tag, uint64_t* out, bool* found) const {
    Entry e;
    *found = Find(tag, &e);
    if (!*found) return common::Status::Ok();
    uint64_t width = 0;
    if (e.type == kTypeInt32) width = 4;
    if (e.type == kTypeInt64) width = 8;
    if (width == 0) return Bad(Describe(e) + " has type " + std::to_string(e.type) + ", not a number");
    if (e.count == 0) return Bad(Describe(e) + " has count 0");
    // 64-bit arithmetic: count * width cannot overflow from 32-bit inputs.
    if (uint64_t{e.offset} + uint64_t{e.count} * width > data_.size()) {
      return Bad(Describe(e) + " reaches outside the data store");
    }
    uint64_t v = Be32(data_.data() + e.offset);
    if (width == 8) v = (v << 32) | Be32(data_.data() + e.offset + 4);
    *out = v;
    return common::Status::Ok();
  }

 private:
  std::string_view index_;
  std::string_view data_;
};

}  // namespace

common::StatusOr<Package> ParseRpmHeader(std::string_view blob) {
  Header h;
  RETURN_IF_ERROR(h.Init(blob));
  Package pkg;
  pkg.source = "rpm";
  std::string version;
  std::string release;
  std::string vendor;
  std::string packager;
  RETURN_IF_ERROR(h.String(kTagName, &pkg.name));
  RETURN_IF_ERROR(h.String(kTagVersion, &version));
  RETURN_IF_ERROR(h.String(kTagRelease, &release));
  RETURN_IF_ERROR(h.String(kTagSummary, &pkg.summary));
  RETURN_IF_ERROR(h.String(kTagVendor, &vendor));
  RETURN_IF_ERROR(h.String(kTagPackager, &packager));
  RETURN_IF_ERROR(h.String(kTagGroup, &pkg.section));
  RETURN_IF_ERROR(h.String(kTagArch, &pkg.arch));
  if (pkg.name.empty()) return Bad("no NAME");
  if (version.empty()) return Bad("no VERSION");
  uint64_t epoch = 0;
  bool has_epoch = false;
  RETURN_IF_ERROR(h.Number(kTagEpoch, &epoch, &has_epoch));
  // rpm's own EVR form: the epoch only when the tag is present (0 included).
  pkg.version = (has_epoch ? std::to_string(epoch) + ":" : "") + version + (release.empty() ? "" : "-" + release);
  uint64_t value = 0;
  bool found = false;
  RETURN_IF_ERROR(h.Number(kTagInstallTime, &value, &found));
  if (found) pkg.installed_at = static_cast<int64_t>(value & 0xffffffffu);
  RETURN_IF_ERROR(h.Number(kTagLongSize, &value, &found));
  if (!found) RETURN_IF_ERROR(h.Number(kTagSize, &value, &found));
  if (found) pkg.size_bytes = value;
  pkg.maintainer = vendor.empty() ? packager : vendor;
  return pkg;
}

namespace {

// An SQLite URI for a file, so the immutable parameter can be given: '%',
// '?' and '#' would otherwise be read as URI syntax.
std::string FileUri(const std::string& path) {
  std::string uri = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      static const char kHex[] = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      uri += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      uri += c;
    }
  }
  return uri + "?immutable=1";
}

void ReadSqlite(const Root& root, const std::string& rel, SourceReport* report) {
  // Read-only and immutable: SQLite then takes no lock and creates no -wal or
  // -shm file beside a database that belongs to rpm. The price: a transaction
  // rpm has not yet checkpointed from its WAL is not seen, and a database
  // rewritten while we read may report as corrupt (a note, next time fine).
  auto db = sqlite::OpenConnection(FileUri(root.Path(rel)), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 0);
  if (!db.ok()) {
    report->notes.push_back(report->database + ": " + Reason(db.status()));
    return;
  }
  sqlite::SqliteConn conn(std::move(*db));
  sql::Stmt stmt(&conn, "read rpm Packages");
  common::Status st = stmt.Prepare("SELECT hnum, blob FROM Packages ORDER BY hnum");
  if (!st.ok()) {
    report->notes.push_back(report->database + ": " + Reason(st));
    return;
  }
  for (;;) {
    common::StatusOr<bool> row = stmt.Step();
    if (!row.ok()) {
      report->notes.push_back(report->database + ": " + Reason(row.status()));
      return;
    }
    if (!*row) return;
    common::StatusOr<Package> pkg = ParseRpmHeader(stmt.Blob(1));
    if (pkg.ok()) {
      report->packages.push_back(std::move(*pkg));
    } else {
      report->notes.push_back(report->database + ": package " + std::to_string(stmt.Int(0)) + " skipped: " +
                              pkg.status().message());
    }
  }
}

}  // namespace

SourceReport CollectRpm(const Root& root) {
  SourceReport report;
  std::error_code ec;
  // rpm's %_dbpath: /var/lib/rpm on most distributions, /usr/lib/sysimage/rpm
  // on Fedora 36+ and openSUSE, each making the other a symbolic link to it.
  // The first folder holding a database is read; the other is then either the
  // same folder or a leftover.
  for (const char* dir : {"var/lib/rpm/", "usr/lib/sysimage/rpm/"}) {
    const std::string base = dir;
    if (std::filesystem::exists(root.Path(base + "rpmdb.sqlite"), ec)) {
      report.found = true;
      report.database = DevicePath(base + "rpmdb.sqlite");
      ReadSqlite(root, base + "rpmdb.sqlite", &report);
      return report;
    }
    // rpm before 4.16 (Berkeley DB: RHEL 8, CentOS 7) and SUSE's ndb. Both
    // formats are undocumented outside rpm's sources; the packages are not
    // read, and the note says why the inventory has none.
    for (const char* file : {"Packages.db", "Packages"}) {
      if (std::filesystem::exists(root.Path(base + file), ec)) {
        report.found = true;
        report.database = DevicePath(base + file);
        report.notes.push_back(report.database + ": unsupported rpm database format (" +
                               (std::strcmp(file, "Packages") == 0 ? "Berkeley DB" : "ndb") +
                               "); only rpmdb.sqlite is read");
        return report;
      }
    }
  }
  return report;
}

}  // namespace inventory
