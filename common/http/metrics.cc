#include "common/http/metrics.h"

#include <utility>

#include "glog/logging.h"
#include "prometheus/text_serializer.h"

namespace kgw::http {

std::string SerializeMetrics(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

void AddHealthAndMetrics(HttpServer& server, std::shared_ptr<prometheus::Registry> registry,
                         std::function<bool()> ready, std::function<void()> collect) {
  CHECK(registry != nullptr);
  CHECK(ready != nullptr);
  server.Handle("/health/live", [] { return Response{.body = "ok\n"}; });
  server.Handle("/health/ready", [ready = std::move(ready)] {
    return ready() ? Response{.body = "ready\n"} : Response{.status = 503, .body = "not ready\n"};
  });
  server.Handle("/metrics", [registry = std::move(registry), collect = std::move(collect)] {
    if (collect) collect();
    return Response{.content_type = std::string(kPrometheusContentType),
                    .body = SerializeMetrics(*registry)};
  });
}

}  // namespace kgw::http
