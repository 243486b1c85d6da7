#include "common/sync/background_loop.h"

#include <utility>

#include "glog/logging.h"

namespace kgw::sync {

void BackgroundLoop::Start(std::function<void()> body) {
  CHECK(!thread_.joinable()) << "BackgroundLoop started twice";
  thread_ = std::thread(std::move(body));
}

void BackgroundLoop::RequestStop(const std::function<void()>& also) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (also) also();
  }
  wake_.notify_all();
}

void BackgroundLoop::Join() {
  if (!thread_.joinable()) return;
  CHECK(thread_.get_id() != std::this_thread::get_id())
      << "BackgroundLoop joined from the loop's own thread";
  thread_.join();
}

bool BackgroundLoop::StopRequested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

bool BackgroundLoop::Sleep(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return Wait(lock, timeout);
}

}  // namespace kgw::sync
