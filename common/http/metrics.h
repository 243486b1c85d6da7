// Prometheus text exposition and health endpoints for HttpServer, built on
// prometheus-cpp's core library only (no civetweb Exposer): the metrics are
// served from the same io_context thread as everything else on the endpoint.
#ifndef KGW_COMMON_HTTP_METRICS_H_
#define KGW_COMMON_HTTP_METRICS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "common/http/http_server.h"
#include "prometheus/registry.h"

namespace kgw::http {

// Content type of the Prometheus text exposition format.
inline constexpr absl::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Collects every metric family in `registry` and renders it in the text
// exposition format. Registry is thread-safe, so this may run on any thread.
std::string SerializeMetrics(const prometheus::Registry& registry);

// Registers on `server`:
//   /health/live   200 "ok\n" while the process can answer at all;
//   /health/ready  200 "ready\n" when `ready()` returns true, else 503 "not ready\n";
//   /metrics       200, `registry` in the text exposition format.
// `ready` is called on the server's io_context thread for every readiness
// probe, so it must be cheap and safe to call from there; `collect`, when
// set, on the same thread before each scrape, to bring gauges up to date.
// Neither `registry` nor `ready` may be null.
void AddHealthAndMetrics(HttpServer& server, std::shared_ptr<prometheus::Registry> registry,
                         std::function<bool()> ready, std::function<void()> collect = nullptr);

}  // namespace kgw::http

#endif  // KGW_COMMON_HTTP_METRICS_H_
