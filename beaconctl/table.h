// Plain-text output shared by beaconctl's commands.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace beaconctl {

// Prints rows as columns separated by two spaces, the header first. Columns in
// `right` are right-aligned (numbers); the last column is not padded.
void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right = {});

// Device data made safe for a terminal (common::Printable), or "-" if empty.
std::string OrDash(const std::string& s);

// "2026-11-22 16:00:00Z", or "never" for 0.
std::string FormatTime(int64_t unix_seconds);

}  // namespace beaconctl
