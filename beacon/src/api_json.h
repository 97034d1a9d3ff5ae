// The admin API's JSON records (docs/api.md): one function per kind of
// record, so that a device, an action or a health message has the same
// fields wherever it appears (a list, a device page, a POST's answer).
// Field names follow `beaconctl --json` (docs/beaconctl.md) where beaconctl
// has the record. Pure.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "estate_view.h"
#include "inventory/store.h"
#include "policy/repository.h"

namespace beacon {

using Json = nlohmann::ordered_json;

// A time as two fields: NAME (RFC 3339 UTC) and NAME_unix; both null for 0.
void PutTime(Json& obj, const std::string& name, int64_t unix_seconds);

// The device list's item; the device page starts with the same fields.
Json DeviceItemJson(const inventory::DeviceState& d, const inventory::DeviceVerdict& v);
Json ActionJson(const inventory::ActionRow& a);
Json HealthJson(const inventory::HealthRow& r);
Json BeaconJson(const inventory::BeaconState& b, const inventory::BeaconVerdict& v);
Json SoftwareJson(const inventory::SoftwareRow& r, bool with_device);
Json UsageJson(const inventory::UsageRow& r);
Json ChangeJson(const inventory::ChangeRow& r);
Json FileJson(const inventory::FileEvidence& f);
// The device page's "hardware": null when the store holds none (no
// inventory yet).
Json HardwareJson(const inventory::Hardware& h);
// One detailed section (inventory/sections.h), its items' fields as an
// object in the collector's order and the volatile ones named.
Json SectionJson(const inventory::Section& s);
Json RevisionJson(const policy::Revision& r);

// {"items": [...], "total": N} (and "truncated" when `truncated` is set).
Json ListJson(Json items, int64_t total);

}  // namespace beacon
