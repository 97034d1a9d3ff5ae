#include "beacon/resolve.h"

#include "beacon/facts.h"
#include "policy/repository.h"

namespace beacon {

common::StatusOr<LatestTree> ReadLatestTree(const std::string& policy_state) {
  policy::PolicyRepository repo(policy_state);
  LatestTree out;
  ASSIGN_OR_RETURN(out.revision, repo.Latest());
  if (out.revision == 0) return out;
  ASSIGN_OR_RETURN(policy::Revision rev, repo.Get(out.revision));
  ASSIGN_OR_RETURN(policy::TreeFiles files, repo.Files(rev));
  ASSIGN_OR_RETURN(
      out.tree, policy::PolicyTree::FromFiles(files, "revision " + std::to_string(out.revision)));
  return out;
}

common::StatusOr<DeviceResolution> ResolveDevice(inventory::Store& store,
                                                 const std::string& policy_state,
                                                 const std::string& device_id) {
  ASSIGN_OR_RETURN(LatestTree latest, ReadLatestTree(policy_state));
  if (latest.revision == 0) return common::FailedPrecondition("nothing has been published yet");
  DeviceResolution out;
  out.revision = latest.revision;
  auto facts = DeviceFactsFromStore(store, device_id);
  if (!facts.ok() && facts.status().code() != common::Code::kNotFound) return facts.status();
  out.known = facts.ok();
  if (facts.ok()) out.facts = *facts;
  out.facts.device_id = device_id;
  ASSIGN_OR_RETURN(out.resolution, latest.tree->Resolve(out.facts));
  return out;
}

}  // namespace beacon
