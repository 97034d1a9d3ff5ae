// Hardware collectors (collectors.h): to be written.
#include "collectors.h"

namespace inventory {

std::vector<Section> CollectHardwareSections(const Root&) { return {}; }

}  // namespace inventory
