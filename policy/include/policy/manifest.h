// The policy manifest: the small per-device document that names which policy
// files a device should have, at which revision, by SHA-256.
//
// Files are content-addressed and immutable: a file is fetched by its hash and
// can be cached forever at every hop. Only the manifest is revalidated (ETag /
// If-None-Match). Format in docs/protocol.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace policy {

struct ManifestFile {
  std::string name;    // a policy file name (IsPolicyFileName)
  std::string sha256;  // lower-case hex
  uint64_t size = 0;
  bool operator==(const ManifestFile&) const = default;
};

// Work queued for the device by an administrator (docs/actions.md), signed
// with the rest of the manifest, so only the central can queue it.
struct ManifestAction {
  std::string id;          // a lower-case UUID, unique per action
  std::string kind;        // common::protocol::IsActionKind
  int64_t expires_at = 0;  // unix seconds; the client does not start it after this
  bool operator==(const ManifestAction&) const = default;
};

struct Manifest {
  int64_t revision = 0;             // increases with every published change
  // The device this manifest was resolved for (a lower-case UUID). Signed
  // with the rest, so that a beacon cannot hand one device's policy to another.
  std::string device;
  std::vector<ManifestFile> files;  // sorted by name, names unique
  std::vector<ManifestAction> actions;  // sorted by id, ids unique; at most 100
  std::string signature;            // base64 Ed25519 signature by the central (policy/signing.h)
  bool operator==(const Manifest&) const = default;
};

std::string ToXml(const Manifest& manifest);

// Strict parse with the one XML reader (common/xml.h, which says what every
// document refuses and where errors are located): InvalidArgument
// "source:line:column: message" also for unknown elements or attributes, bad
// names, digests or sizes, duplicate names, a revision that is not a decimal
// 0 .. 999999999999999999, or a missing or malformed device id, and for
// actions with an unknown kind, a malformed or repeated id, or more than 100.
common::StatusOr<Manifest> ParseManifestXml(const std::string& xml, const std::string& source);

// The strong ETag of a serialized manifest: a quoted prefix of its SHA-256.
std::string ManifestEtag(const std::string& manifest_xml);

// Policy file names: 1..64 of [A-Za-z0-9._-], not starting with '.'.
bool IsPolicyFileName(const std::string& name);

}  // namespace policy
