// The central's decision of enrollment and renewal requests (docs/identity.md
// "Enrollment", "Renewal", "Clones"): called by the importer for spool
// entries of kind "enroll" and "renew", in order, like every other upload.
#pragma once

#include <chrono>
#include <string>

#include "common/spool.h"
#include "common/status.h"
#include "inventory/store.h"

namespace beacon {

class Enroller {
 public:
  // `store` outlives the Enroller; the CA is read from DATA_DIR/ca.
  Enroller(std::string data_dir, inventory::Store* store, std::chrono::seconds device_cert_validity,
           bool approval_mode)
      : data_dir_(std::move(data_dir)), store_(store), validity_(device_cert_validity), approval_(approval_mode) {}

  // Decides the request in `body` and records the decision in the store
  // (the device then fetches it). OK once recorded, whatever the decision;
  // InvalidArgument when the body is not an enrollment request (the entry
  // is rejected); any other error leaves it to be tried again.
  common::Status Decide(const common::SpoolMeta& meta, const std::string& body) const;

 private:
  std::string data_dir_;
  inventory::Store* store_;
  std::chrono::seconds validity_;
  bool approval_;
};

}  // namespace beacon
