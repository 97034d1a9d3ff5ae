// The dashboard's own files (beacon/web/), compiled into the executable by
// beacon/embed_web.cmake at build time. Read-only static data: thread-safe.
#pragma once

#include <cstddef>
#include <span>

namespace beacon {

struct WebAsset {
  const char* path;  // relative to beacon/web/, '/'-separated: "index.html", "pages/devices.js"
  const unsigned char* data;
  size_t size;
};

// Every file of beacon/web/, sorted by path.
std::span<const WebAsset> WebAssets();

}  // namespace beacon
