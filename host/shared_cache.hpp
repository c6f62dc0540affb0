// A process-wide cache of immutable values shared by the songs of a batch (identical IRs decoded,
// EQs designed and filter spectra transformed once), bounded by an entry count: when full it is
// emptied (values in use stay alive through their shared_ptr). Thread-safe; `make` runs outside
// the lock, so two threads may both make a missing value and the first stored wins (same value).
#pragma once

#include <map>
#include <memory>
#include <mutex>

namespace lq {

template <class Key, class Value>
class SharedCache {
 public:
  explicit SharedCache(size_t capacity) : capacity_(capacity) {}

  template <class Make>
  std::shared_ptr<const Value> get(const Key& key, Make&& make) {
    {
      std::lock_guard lock(m_);
      if (auto it = map_.find(key); it != map_.end()) return it->second;
    }
    std::shared_ptr<const Value> v = std::make_shared<const Value>(make());
    std::lock_guard lock(m_);
    if (map_.size() >= capacity_) map_.clear();
    return map_.emplace(key, std::move(v)).first->second;
  }

 private:
  std::mutex m_;
  size_t capacity_;
  std::map<Key, std::shared_ptr<const Value>> map_;
};

}  // namespace lq
