// SHA-256 through OpenSSL's EVP interface; hex digests are lower-case.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace common {

// Incremental hasher. Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t len);
  // Finishes and returns 64 lower-case hex characters. Call once.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);

// True for exactly 64 lower-case hex characters.
bool IsHexDigest(std::string_view s);

}  // namespace common
