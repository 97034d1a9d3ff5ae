#include "devices.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "common/config.h"
#include "common/fs.h"
#include "common/uuid.h"

namespace swarm {

std::string Device::Etag() const {
  return std::string(etag.data(), strnlen(etag.data(), etag.size()));
}

void Device::SetEtag(const std::string& value) {
  etag.fill(0);
  std::memcpy(etag.data(), value.data(), std::min(value.size(), etag.size()));
}

void Device::SetUpload(const std::string& value) {
  upload.fill(0);
  std::memcpy(upload.data(), value.data(), std::min(value.size(), upload.size()));
}

bool Device::IsServer(int percent) const {
  // The first four hex digits of a random UUID are uniform.
  unsigned v = static_cast<unsigned>(std::stoul(std::string(id.data(), 4), nullptr, 16));
  return static_cast<int>(v % 100) < percent;
}

std::string Device::Hostname(int servers_percent) const {
  return (IsServer(servers_percent) ? "srv-" : "ws-") + std::string(id.data(), 8);
}

std::vector<Device> NewDevices(uint32_t n) {
  std::vector<Device> devices(n);
  for (Device& d : devices) {
    std::string id = common::NewUuid();
    std::memcpy(d.id.data(), id.data(), d.id.size());
  }
  return devices;
}

common::Status SaveDevices(const std::vector<Device>& devices, const std::string& path) {
  std::string text;
  text.reserve(devices.size() * 96);
  for (const Device& d : devices) {
    text += d.Id() + "\t" + d.Etag() + "\t" + std::to_string(d.revision) + "\t" +
            std::to_string(d.sequence) + "\t" + d.Upload() + "\t" +
            std::to_string(d.HasUpload() ? d.collected_at : 0) + "\n";
  }
  return common::WriteFileAtomic(path, text);
}

common::StatusOr<std::vector<Device>> LoadDevices(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, common::ReadFile(path, uint64_t{1} << 30));
  std::vector<Device> devices;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto bad = [&](const std::string& what) {
      return common::InvalidArgument(path + ":" + std::to_string(n) + ": " + what);
    };
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    if (f.size() != 6) {
      return bad(
          "expected id, etag, revision, sequence, queued upload and collected_at, separated by "
          "tabs");
    }
    Device d;
    if (!common::IsUuid(f[0])) return bad("not a device id");
    std::memcpy(d.id.data(), f[0].data(), d.id.size());
    if (f[1].size() > d.etag.size()) return bad("ETag too long");
    d.SetEtag(f[1]);
    int64_t revision = 0, sequence = 0;
    if (!common::ParseDecimal(f[2], &revision) ||
        !common::ParseDecimal(f[3], &sequence, UINT32_MAX)) {
      return bad("revision and sequence must be decimal numbers");
    }
    d.revision = revision;
    d.sequence = static_cast<uint32_t>(sequence);
    int64_t collected_at = 0;
    if (!f[4].empty() && !common::IsUuid(f[4])) return bad("the queued upload id is not a UUID");
    if (!common::ParseDecimal(f[5], &collected_at))
      return bad("collected_at must be a decimal number");
    d.SetUpload(f[4]);
    d.collected_at = collected_at;
    devices.push_back(d);
  }
  return devices;
}

}  // namespace swarm
