#include "enroller.h"

#include <ctime>

#include "beacon/estate_ca.h"
#include "common/enrollment.h"
#include "common/log.h"
#include "common/protocol.h"

namespace beacon {

using common::Status;

Status Enroller::Decide(const common::SpoolMeta& meta, const std::string& body) const {
  common::pki::CsrInfo key;
  auto request = common::ParseEnrollRequest(body, "enrollment request " + meta.id, &key);
  if (!request.ok()) return request.status();
  inventory::EnrollmentInput in;
  in.request.device_id = meta.device;
  in.request.request_id = meta.id;
  in.request.kind = meta.kind;
  in.request.host = request->host;
  in.request.key_sha256 = key.key_sha256;
  in.request.csr_pem = request->csr_pem;
  in.request.via = meta.via;
  in.request.received_at = meta.received_at;
  // A renewal is authenticated by the certificate it came with; a secret in
  // it means nothing.
  if (meta.kind == common::protocol::kEnrollKind) in.secret = request->secret;
  in.approval_mode = approval_;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto decided = store_->DecideEnrollment(in, now, DeviceIssuer(data_dir_, validity_));
  if (!decided.ok()) {
    // The store or the CA failed: nothing was decided; try again later.
    if (decided.status().code() == common::Code::kInvalidArgument) {
      return common::FailedPrecondition(decided.status().message());
    }
    return decided.status();
  }
  const std::string what = meta.kind + " request " + meta.id + " of device " + meta.device + " (via " + meta.via +
                           (request->host.empty() ? "" : ", host " + request->host) + ")";
  if (decided->state == "issued") {
    common::LogInfo(what + ": issued certificate " + decided->serial);
  } else if (decided->state == "pending") {
    common::LogInfo(what + ": waiting for an administrator (beaconctl enroll approve " + meta.id + ")");
  } else if (decided->reason == "device id already enrolled with another key") {
    common::LogWarn(what + ": refused, clone suspected: key " + key.key_sha256.substr(0, 16) +
                    " is not the enrolled key of this device id");
  } else {
    common::LogWarn(what + ": " + decided->state + ": " + decided->reason);
  }
  return Status::Ok();
}

}  // namespace beacon
