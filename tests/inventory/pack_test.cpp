#include <cstdint>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "inventory/pack.h"

namespace {

using common::Code;
using inventory::Gunzip;
using inventory::Gzip;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void CheckRoundTrip(const std::string& data) {
  auto gz = Gzip(data);
  REQUIRE(gz.ok());
  // RFC 1952 magic and deflate method: what any gzip reader expects.
  REQUIRE(gz->size() >= 18);
  CHECK(static_cast<unsigned char>((*gz)[0]) == 0x1f);
  CHECK(static_cast<unsigned char>((*gz)[1]) == 0x8b);
  CHECK((*gz)[2] == 8);
  auto back = Gunzip(*gz);
  REQUIRE(back.ok());
  CHECK(*back == data);
}

}  // namespace

TEST_CASE("gzip round trip", "[inventory][pack]") {
  SECTION("empty") { CheckRoundTrip(""); }
  SECTION("small") { CheckRoundTrip("<inventory/>\n"); }
  SECTION("5 MiB random") { CheckRoundTrip(RandomBytes(5u << 20, 7)); }
  SECTION("compressible text") {
    std::string text;
    for (int i = 0; i < 100000; ++i) text += "<package name=\"p" + std::to_string(i) + "\"/>\n";
    auto gz = Gzip(text);
    REQUIRE(gz.ok());
    CHECK(gz->size() < text.size() / 4);
    CheckRoundTrip(text);
  }
}

TEST_CASE("gzip output is deterministic", "[inventory][pack]") {
  auto a = Gzip("same input");
  auto b = Gzip("same input");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
}

TEST_CASE("gunzip refuses what is not gzip", "[inventory][pack]") {
  for (std::string input :
       {std::string(), std::string("plain text, not compressed"), std::string("\x1f\x8b"),
        std::string("BZh91AY&SY"), RandomBytes(10000, 1)}) {
    auto r = Gunzip(input);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("gunzip refuses truncated and corrupt streams", "[inventory][pack]") {
  std::string data = RandomBytes(100000, 3);
  auto gz = Gzip(data);
  REQUIRE(gz.ok());
  SECTION("truncated in the middle") {
    auto r = Gunzip(gz->substr(0, gz->size() / 2));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message() == "gunzip: truncated gzip stream (it ends before its trailer)");
  }
  SECTION("trailer missing") {
    auto r = Gunzip(gz->substr(0, gz->size() - 8));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("truncated"));
  }
  SECTION("header only") {
    auto r = Gunzip(gz->substr(0, 10));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("truncated"));
  }
  SECTION("CRC flipped") {
    std::string bad = *gz;
    bad[bad.size() - 6] = static_cast<char>(bad[bad.size() - 6] ^ 0x55);
    auto r = Gunzip(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message() == "gunzip: corrupt gzip stream: incorrect data check");
  }
  SECTION("length flipped") {
    std::string bad = *gz;
    bad[bad.size() - 1] = static_cast<char>(bad[bad.size() - 1] ^ 0x01);
    auto r = Gunzip(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "gunzip: corrupt gzip stream: incorrect length check");
  }
  SECTION("deflate data damaged") {
    // Random input is stored, not compressed, so damage a compressible one.
    auto text = Gzip(std::string(100000, 'a') + "b");
    REQUIRE(text.ok());
    std::string bad = *text;
    bad[12] = static_cast<char>(bad[12] ^ 0xFF);
    auto r = Gunzip(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::StartsWith("gunzip: "));
  }
  SECTION("bad header flags") {
    std::string bad = *gz;
    bad[2] = 7;  // compression method other than deflate
    auto r = Gunzip(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::StartsWith("gunzip: corrupt gzip stream: "));
  }
}

TEST_CASE("gunzip accepts one member with nothing after it", "[inventory][pack]") {
  auto a = Gzip("first");
  auto b = Gzip("second");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  SECTION("trailing bytes") {
    auto r = Gunzip(*a + "junk");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("bytes after the gzip trailer"));
  }
  SECTION("concatenated members") {
    auto r = Gunzip(*a + *b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
  SECTION("gzip inside gzip") {
    auto twice = Gzip(*a);
    REQUIRE(twice.ok());
    auto r = Gunzip(*twice);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("nested"));
  }
}

TEST_CASE("gunzip stops a decompression bomb at the cap", "[inventory][pack]") {
  auto gz = Gzip(std::string(10u << 20, '\0'));
  REQUIRE(gz.ok());
  CHECK(gz->size() < 64u << 10);
  auto r = Gunzip(*gz, 1u << 20);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kResourceExhausted);
  CHECK(r.status().message() == "gunzip: output exceeds 1048576 bytes");
  // A bomb over the default cap (64 MiB): 100 MiB of zeros is about 100 KiB of gzip.
  auto big = Gzip(std::string(100u << 20, '\0'));
  REQUIRE(big.ok());
  CHECK(big->size() < 200u << 10);
  auto bomb = Gunzip(*big);
  REQUIRE_FALSE(bomb.ok());
  CHECK(bomb.status().code() == Code::kResourceExhausted);
  CHECK(bomb.status().message() == "gunzip: output exceeds 67108864 bytes");
  // Exactly at the cap is allowed.
  auto exact = Gunzip(*gz, 10u << 20);
  REQUIRE(exact.ok());
  CHECK(exact->size() == 10u << 20);
}

TEST_CASE("gunzip reads what gzip(1) wrote", "[inventory][pack]") {
  // "hello\n" compressed by `gzip` with its file name ("h") in the header.
  const std::string named(
      "\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\x03h\x00\xcb\x48\xcd\xc9\xc9\xe7\x02\x00"
      "\x20\x30\x3a\x36\x06\x00\x00\x00",
      28);
  auto n = Gunzip(named);
  REQUIRE(n.ok());
  CHECK(*n == "hello\n");
  // "hello\n" compressed by `gzip -n`.
  const std::string gz(
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\xe7\x02\x00"
      "\x20\x30\x3a\x36\x06\x00\x00\x00",
      26);
  auto r = Gunzip(gz);
  REQUIRE(r.ok());
  CHECK(*r == "hello\n");
}
