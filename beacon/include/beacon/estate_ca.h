// The estate CA as the central uses it (docs/identity.md): where it lives in
// the central's data directory, the trust bundle written from it and the
// store's revocations, and the decision of enrollment and renewal requests.
// Shared by the central beacon (its importer and its CRL refresh) and
// beaconctl (ca, beacon, device and enroll commands).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "inventory/identity_store.h"

namespace beacon {

// DATA_DIR/ca: the CA's files (common::pki::CertAuthority).
std::string CaDir(const std::string& data_dir);
// DATA_DIR/ca/trust.pem: the bundle the central serves and enforces.
std::string TrustPath(const std::string& data_dir);

// Writes TrustPath(data_dir) anew: the CA certificates (during a rollover
// the old one and the cross-certificate too) and, for each CA, a new CRL
// listing the store's unexpired revoked certificates from it, valid for
// `crl_validity`, numbered higher than any CRL written before. Serialized
// between processes by a lock file in the CA folder. NotFound if there is
// no CA.
common::Status PublishTrust(const std::string& data_dir, inventory::IdentityStore& store, int64_t now,
                            std::chrono::seconds crl_validity);

// True when the bundle's revocation lists have less than half of
// `crl_validity` left (or the bundle is missing): time to PublishTrust.
bool TrustNeedsRefresh(const std::string& data_dir, int64_t now, std::chrono::seconds crl_validity);

// The IssueFn for device certificates from the CA in DATA_DIR/ca, read
// anew for each call so that a rollover made by beaconctl is seen at once.
inventory::IssueFn DeviceIssuer(const std::string& data_dir, std::chrono::seconds validity);

}  // namespace beacon
