// Debian package versions: their syntax and their order, as dpkg defines
// them (deb-version(7); `dpkg --compare-versions`). Used to ask which devices
// run a package below or at least a given version (the admin API's software
// search). Pure and thread-safe.
//
//   version  = [epoch ":"] upstream ["-" revision]
//   epoch    = 1*DIGIT
//   upstream = DIGIT *(ALNUM / "." / "+" / "~" / "-" / ":")   ; "-" only with a revision,
//                                                             ; ":" only with an epoch
//   revision = 1*(ALNUM / "." / "+" / "~")
//
// The order: epochs as numbers (none is 0), then the upstream parts, then
// the revisions (none compares as "0"). A part is compared as alternating
// runs of non-digits and digits: non-digit runs character by character,
// where '~' sorts before everything (even the end of the part), the end of
// the part before any other character, letters before the rest; digit runs
// as numbers. So 1.0~rc1 < 1.0 < 1.0+b1 < 1.0a < 1.0.1.
#pragma once

#include <string_view>

namespace inventory {

// True if `v` is a version of the grammar above (what a query may name).
bool IsDebianVersion(std::string_view v);

// <0, 0 or >0 as `a` sorts before, equal to or after `b`. Total on any
// strings (versions reported by rpm, snap or flatpak are compared with the
// same rules, as dpkg would with a warning): an epoch that is not all
// digits counts as part of the upstream version.
int CompareDebianVersions(std::string_view a, std::string_view b);

}  // namespace inventory
