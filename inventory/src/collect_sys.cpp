// System collectors (collectors.h): to be written.
#include "collectors.h"

namespace inventory {

std::vector<Section> CollectSystemSections(const Root&) { return {}; }

}  // namespace inventory
