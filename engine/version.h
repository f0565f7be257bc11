// The engine's version and the git revision it was configured from (recorded in checkpoints and results).
#pragma once

namespace dismax {
const char* engine_version();  // "0.1.0"
const char* git_revision();    // short hash, "+dirty" when the tree had changes, or "unknown"
}  // namespace dismax
