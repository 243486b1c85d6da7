// A byte budget shared by every session of an agent: the memory that client
// requests may occupy at once (GATEWAY_MAX_BUFFERED_REQUEST_BYTES), like a
// broker's queued.max.request.bytes. A session asks before it grows a request
// buffer; when the budget is spent it stops reading that client, so TCP
// pushes back on the sender instead of the agent allocating more.
//
// Every connection may hold a read buffer of `floor` bytes whatever the
// budget says, so a spent budget slows connections down but never wedges
// one: what it reads moves on to the broker and frees its share.
//
// Safe to use from any thread: one atomic counter.
#ifndef KGW_AGENT_BUFFER_BUDGET_H_
#define KGW_AGENT_BUFFER_BUDGET_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace kgw::agent {

class BufferBudget {
 public:
  // `limit` <= 0: no limit (every request is granted, still counted).
  BufferBudget(int64_t limit, size_t floor) : limit_(limit), floor_(floor) {}
  BufferBudget(const BufferBudget&) = delete;
  BufferBudget& operator=(const BufferBudget&) = delete;

  // Takes `n` more bytes for a read buffer that already has `held`. Granted
  // when they fit under the limit, or when the buffer stays within the floor.
  bool TryAcquire(size_t n, size_t held) {
    if (n == 0) return true;
    if (limit_ <= 0 || held + n <= floor_) {
      used_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
      return true;
    }
    int64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + static_cast<int64_t>(n) > limit_) {
        refusals_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!used_.compare_exchange_weak(used, used + static_cast<int64_t>(n),
                                          std::memory_order_relaxed));
    return true;
  }
  // Accounts for `n` bytes already allocated (a queue that grew while
  // forwarding what had been admitted); never refused.
  void Charge(size_t n) { used_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed); }
  void Release(size_t n) { used_.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed); }

  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }
  size_t floor() const { return floor_; }
  // How often a request for more was refused.
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  const int64_t limit_;
  const size_t floor_;
  std::atomic<int64_t> used_{0};
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace kgw::agent

#endif  // KGW_AGENT_BUFFER_BUDGET_H_
