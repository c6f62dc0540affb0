// Wall time per stage into a report's timing object (seconds, accumulated by stage name).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace lq {

// Adds the seconds since construction to timing[name] when it goes out of scope.
class StageTimer {
 public:
  using Clock = std::chrono::steady_clock;
  StageTimer(nlohmann::json& timing, const char* name) : timing_(timing), name_(name), start_(Clock::now()) {}
  ~StageTimer() { add_seconds(timing_, name_, std::chrono::duration<double>(Clock::now() - start_).count()); }
  // timing[name] += seconds (created at 0).
  static void add_seconds(nlohmann::json& timing, const std::string& name, double seconds) {
    nlohmann::json& slot = timing[name];
    slot = (slot.is_number() ? slot.get<double>() : 0.0) + seconds;
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  nlohmann::json& timing_;
  const char* name_;
  Clock::time_point start_;
};

}  // namespace lq
