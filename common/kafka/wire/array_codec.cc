#include "common/kafka/wire/array_codec.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "glog/logging.h"

namespace kgw::kafka::internal {

absl::Status UnsupportedVersion(std::string_view message, int16_t version, int16_t min_version,
                                int16_t max_version) {
  return absl::InvalidArgumentError(absl::StrCat(absl::string_view(message.data(), message.size()),
                                                 " v", version, ": unsupported version (valid ",
                                                 min_version, "-", max_version, ")"));
}

void DcheckVersion(std::string_view message, int16_t version, int16_t min_version,
                   int16_t max_version) {
  DCHECK(version >= min_version && version <= max_version)
      << message << " cannot be encoded at v" << version;
}

}  // namespace kgw::kafka::internal
