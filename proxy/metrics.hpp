// Prometheus metrics: counters, gauges and histograms in families with bounded label values,
// rendered in the text exposition format 0.0.4. Every name starts with webex_cache_proxy_.
//
// Thread-safety: cells are atomics, safe from any thread; a family's cell map takes a lock only
// when a new label combination is created or the registry is rendered. Hot paths keep the
// cell pointer, which stays valid for the registry's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace wcp::proxy {

class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept {
    double cur = v_.load(std::memory_order_relaxed);
    while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {}
  }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class histogram {
 public:
  explicit histogram(const std::vector<double>& bounds);
  void observe(double v) noexcept;
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  std::uint64_t bucket(std::size_t i) const noexcept {
    return buckets_[i].load(std::memory_order_relaxed);
  }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, one per bound
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class metric_type { counter, gauge, histogram };

class registry;

template <class Cell>
class family {
 public:
  // The cell for these label values (in the order of the family's label names).
  Cell& with(const std::vector<std::string>& values);
  Cell& operator()() { return with({}); }

 private:
  friend class registry;
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;  // histograms
  std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Cell>> cells_;
};

class registry {
 public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  family<counter>& add_counter(std::string name, std::string help,
                               std::vector<std::string> labels = {});
  family<gauge>& add_gauge(std::string name, std::string help,
                           std::vector<std::string> labels = {});
  family<histogram>& add_histogram(std::string name, std::string help, std::vector<double> bounds,
                                   std::vector<std::string> labels = {});
  // A gauge whose value is read when rendered.
  void add_gauge_fn(std::string name, std::string help, std::function<double()> fn);
  // A gauge with one label whose series are each read when rendered.
  void add_gauge_fns(std::string name, std::string help, std::string label,
                     std::vector<std::pair<std::string, std::function<double()>>> series);
  // One series whose label value and value are both read when rendered (an "info" gauge: one
  // label value at a time; "none" with value 0 while `value` yields "").
  void add_info_fn(std::string name, std::string help, std::string label,
                   std::function<std::string()> value, std::function<double()> fn);
  // A counter kept elsewhere (an atomic of another module), read when rendered.
  void add_counter_fn(std::string name, std::string help, std::function<double()> fn);

  std::string render();

 private:
  struct entry {
    metric_type type;
    family<counter>* c = nullptr;
    family<gauge>* g = nullptr;
    family<histogram>* h = nullptr;
    std::string name, help;
    std::function<double()> fn;
    bool fn_is_counter = false;
    std::string fn_label;  // add_gauge_fns: the label, and one function per value
    std::vector<std::pair<std::string, std::function<double()>>> fn_series;
    std::function<std::string()> info_value;  // add_info_fn
  };
  // Appends an entry of this type and name (the caller holds mu_) and yields it to fill in.
  entry& push(metric_type type, std::string name, std::string help);
  std::mutex mu_;
  std::vector<entry> order_;
  std::vector<std::unique_ptr<family<counter>>> counters_;
  std::vector<std::unique_ptr<family<gauge>>> gauges_;
  std::vector<std::unique_ptr<family<histogram>>> histograms_;
};

// Buckets for latencies in seconds, from 100 µs to 30 s.
std::vector<double> latency_buckets();

}  // namespace wcp::proxy
