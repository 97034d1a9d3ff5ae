// gzip through libarchive: the "raw" format with one regular-file entry gives
// a bare gzip stream (no tar around it), which is what HTTP peers and the
// gzip(1) tool expect for Content-Type: application/gzip.

#include "inventory/pack.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <archive.h>
#include <archive_entry.h>

namespace inventory {
namespace {

using common::Status;
using common::StatusOr;

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string ArchiveError(archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown libarchive error";
}

// The compressed size is not known in advance, so the writer appends to a
// growing string instead of a fixed buffer (archive_write_open_memory).
la_ssize_t AppendToString(archive*, void* client, const void* buf, size_t len) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

constexpr size_t kReadChunk = 64u << 10;

// CRC-32 of RFC 1952 (reflected, polynomial 0xEDB88320). libarchive 3.6's
// gzip reader skips the trailer without checking it, so corruption inside the
// deflate data that still decodes would go unnoticed without this.
class Crc32 {
 public:
  void Update(const char* data, size_t len) {
    static const auto kTable = [] {
      std::array<uint32_t, 256> t{};
      for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
      }
      return t;
    }();
    for (size_t i = 0; i < len; ++i) {
      crc_ = kTable[(crc_ ^ static_cast<unsigned char>(data[i])) & 0xFF] ^ (crc_ >> 8);
    }
  }
  uint32_t value() const { return ~crc_; }

 private:
  uint32_t crc_ = 0xFFFFFFFFu;
};

uint32_t LittleEndian32(std::string_view s) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[static_cast<size_t>(i)]);
  return v;
}

}  // namespace

StatusOr<std::string> Gzip(std::string_view data) {
  std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
  if (!a) return common::Internal("gzip: archive_write_new failed");
  std::string out;
  archive* w = a.get();
  if (archive_write_add_filter_gzip(w) != ARCHIVE_OK ||
      archive_write_set_format_raw(w) != ARCHIVE_OK ||
      // No mtime in the header: equal input gives equal bytes, so a retried
      // upload carries the same SHA-256.
      archive_write_set_filter_option(w, "gzip", "timestamp", nullptr) < ARCHIVE_OK ||
      // Block padding would append zeros after the gzip trailer.
      archive_write_set_bytes_in_last_block(w, 1) != ARCHIVE_OK ||
      archive_write_open(w, &out, nullptr, AppendToString, nullptr) != ARCHIVE_OK) {
    return common::Internal("gzip: " + ArchiveError(w));
  }
  std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
  if (!entry) return common::Internal("gzip: archive_entry_new failed");
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(data.size()));
  archive_entry_set_pathname(entry.get(), "data");
  if (archive_write_header(w, entry.get()) != ARCHIVE_OK) {
    return common::Internal("gzip: " + ArchiveError(w));
  }
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(w, data.data(), data.size());
    if (n <= 0) return common::Internal("gzip: " + ArchiveError(w));
    data.remove_prefix(static_cast<size_t>(n));
  }
  // close flushes the deflate stream and the trailer; free alone would too,
  // but would hide a failure.
  if (archive_write_close(w) != ARCHIVE_OK) return common::Internal("gzip: " + ArchiveError(w));
  return out;
}

StatusOr<std::string> Gunzip(std::string_view data, uint64_t max_output) {
  if (data.empty()) return common::InvalidArgument("gunzip: empty input is not gzip");
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  if (!a) return common::Internal("gunzip: archive_read_new failed");
  archive* r = a.get();
  // Only the gzip filter: libarchive would otherwise also undo bzip2, xz,
  // uuencode... and hand back whatever was inside.
  // The "empty" format is there for gzip of zero bytes, which the raw format
  // refuses to bid on; it then reads as end of archive.
  if (archive_read_support_filter_gzip(r) != ARCHIVE_OK ||
      archive_read_support_format_raw(r) != ARCHIVE_OK ||
      archive_read_support_format_empty(r) != ARCHIVE_OK ||
      archive_read_open_memory(r, data.data(), data.size()) != ARCHIVE_OK) {
    return common::InvalidArgument("gunzip: " + ArchiveError(r));
  }
  archive_entry* entry = nullptr;
  int header = archive_read_next_header(r, &entry);
  if (header != ARCHIVE_OK && header != ARCHIVE_EOF) {
    return common::InvalidArgument("gunzip: " + ArchiveError(r));
  }
  // With no filter bidding, libarchive passes the bytes through unchanged and
  // the raw format accepts anything, so the filter chain must be checked. The
  // chain is [gzip..., client input]; libarchive peels every gzip layer it finds.
  if (archive_filter_code(r, 0) != ARCHIVE_FILTER_GZIP) {
    return common::InvalidArgument("gunzip: input is not a gzip stream");
  }
  if (archive_filter_count(r) != 2) {
    // Peeling a second layer would return something other than what was
    // gzipped; no upload is wrapped twice, so refuse rather than guess.
    return common::InvalidArgument("gunzip: nested gzip streams are not supported");
  }
  std::string out;
  Crc32 crc;
  char buf[kReadChunk];
  while (header == ARCHIVE_OK) {
    la_ssize_t n = archive_read_data(r, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) return common::InvalidArgument("gunzip: corrupt gzip stream: " + ArchiveError(r));
    if (out.size() + static_cast<uint64_t>(n) > max_output) {
      return common::ResourceExhausted("gunzip: output exceeds " + std::to_string(max_output) +
                                       " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
    crc.Update(buf, static_cast<size_t>(n));
  }
  // libarchive also decodes concatenated members and ignores bytes after the
  // last one; requiring the input's last 8 bytes to be the trailer of all the
  // output limits this to one member with nothing after it, as Gzip and
  // gzip(1) write it.
  if (data.size() < 18 || LittleEndian32(data.substr(data.size() - 8)) != crc.value() ||
      LittleEndian32(data.substr(data.size() - 4)) != static_cast<uint32_t>(out.size())) {
    return common::InvalidArgument(
        "gunzip: CRC-32 or length mismatch (corrupt, concatenated or trailing data)");
  }
  return out;
}

}  // namespace inventory
