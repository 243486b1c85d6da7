// The allocator's settings for kgw-agent and kgw-coordinator, which link
// jemalloc (common/memory/CMakeLists.txt). jemalloc reads this symbol when it
// starts; the MALLOC_CONF environment variable, read after it, overrides it.
//
// glibc's malloc keeps what a wave of closed connections freed: the pages
// stay pinned by the few small objects that outlive the connections (Asio
// keeps a pooled state per descriptor ever open), so an agent stayed at its
// peak resident size for as long as it ran. jemalloc keeps small and large
// allocations apart, and with these settings returns unused pages within
// seconds, from a background thread rather than from the data path:
// - background_thread: a thread purges unused pages, instead of the
//   threads that free them; max_background_threads 1: one such thread, not
//   one per CPU (each is a thread's stack and state for an idle agent);
// - dirty_decay_ms 1000: pages freed stay one second for reuse (a storm of
//   short connections reuses them), then go back to the system;
// - muzzy_decay_ms 0: and are not kept in a second, lazily freed, stage.
extern "C" {
// NOLINTNEXTLINE(readability-identifier-naming): jemalloc's name for it.
const char* malloc_conf = "background_thread:true,max_background_threads:1,dirty_decay_ms:1000,"
                          "muzzy_decay_ms:0";
}
