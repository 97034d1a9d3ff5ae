// Policy signing: the central signs each published manifest with its Ed25519
// key; clients verify it with the estate's policy public key, so a beacon can
// distribute policy but not forge or alter it.
//
// The signature covers the manifest's canonical form: ToXml() of the manifest
// with its signature field empty. A verifier parses what it received,
// re-serializes it and checks the signature over those bytes, so no XML
// canonicalization is needed and any change to the revision, a file name, a
// digest or a size breaks it. Keys are PEM files (openssl genpkey -algorithm
// ed25519). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "policy/manifest.h"

namespace policy {

class ManifestSigner {
 public:
  // InvalidArgument if the file is not a PEM Ed25519 private key.
  static common::StatusOr<std::unique_ptr<ManifestSigner>> FromPemFile(const std::string& path);
  ~ManifestSigner();
  // Sets manifest->signature.
  common::Status Sign(Manifest* manifest) const;

 private:
  ManifestSigner();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ManifestVerifier {
 public:
  // InvalidArgument if the file is not a PEM Ed25519 public key.
  static common::StatusOr<std::unique_ptr<ManifestVerifier>> FromPemFile(const std::string& path);
  ~ManifestVerifier();
  // OK only if `manifest.signature` is a valid signature of its canonical form
  // by the matching private key; otherwise DataLoss naming what failed.
  common::Status Verify(const Manifest& manifest) const;

 private:
  ManifestVerifier();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The checks a device makes on a manifest it received, in this order, before
// it fetches any file: it parses (InvalidArgument, "source:line:column: ..."),
// its signature verifies (DataLoss), it names `device` (PermissionDenied: a
// beacon must not hand one device another's policy), and its revision is not
// older than `applied_revision` (FailedPrecondition: no replayed rollback).
// Messages start with `source` (e.g. "manifest from https://beacon:8443").
// Used by the client and the swarm simulator alike.
common::StatusOr<Manifest> AcceptManifest(const std::string& xml, const std::string& source,
                                          const ManifestVerifier& verifier, const std::string& device,
                                          int64_t applied_revision);

}  // namespace policy
