#include "table.h"

#include <algorithm>
#include <ctime>
#include <ostream>
#include <string_view>

#include "common/text.h"

namespace beaconctl {

// Display width in code points (UTF-8 continuation bytes do not count), which
// is right for the names this table shows; wide East Asian glyphs would still
// misalign, an accepted limitation for a plain-text table.
namespace {

size_t Width(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows,
                const std::vector<bool>& right) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], Width(row[c]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);

  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const size_t pad = widths[c] - Width(row[c]);
      const bool last = c + 1 == row.size();
      const bool align_right = c < right.size() && right[c];
      if (c > 0) line += "  ";
      if (align_right) line.append(pad, ' ');
      line += row[c];
      if (!align_right && !last) line.append(pad, ' ');
    }
    out << line << '\n';
  };
  print(header);
  for (const auto& row : rows) print(row);
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : common::Printable(s); }

std::string FormatTime(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "?";
  char buf[32];
  if (std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm) == 0) return "?";
  return buf;
}

}  // namespace beaconctl
