// Deterministic mutations of a good input, for "never crash, never accept
// garbage silently" tests of every parser. The same seed gives the same
// inputs on every run, so a failure is reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace testing_support {

// `count` variants of `good`: flipped bytes, truncations, deletions,
// duplicated slices, inserted markup and control bytes.
inline std::vector<std::string> Mutations(const std::string& good, int count, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return n == 0 ? size_t(0) : static_cast<size_t>(rng() % n); };
  static const std::vector<std::string> inserts = {"<", ">", "\"", "&", "\n", "\t", "=", "\r\n", "<x>",
                                                   "]]>", "&#0;", std::string(1, '\0'), "\xff\xfe"};
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string s = good;
    int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = pick(s.size());
      switch (pick(5)) {
        case 0: s[at] = static_cast<char>(rng()); break;
        case 1: s.resize(at); break;
        case 2: s.erase(at, 1 + pick(16)); break;
        case 3: s.insert(at, s.substr(pick(s.size()), pick(64))); break;
        default: s.insert(at, inserts[pick(inserts.size())]); break;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace testing_support
