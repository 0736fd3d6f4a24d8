#include "proxy/metrics.hpp"

#include <charconv>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wcp::proxy {

histogram::histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void histogram::observe(double v) noexcept {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {}
}

template <class Cell>
Cell& family<Cell>::with(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  auto it = cells_.find(values);
  if (it == cells_.end()) {
    std::unique_ptr<Cell> cell;
    if constexpr (std::is_same_v<Cell, histogram>)
      cell = std::make_unique<histogram>(bounds_);
    else
      cell = std::make_unique<Cell>();
    it = cells_.emplace(values, std::move(cell)).first;
  }
  return *it->second;
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

family<counter>& registry::add_counter(std::string name, std::string help,
                                       std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto f = std::make_unique<family<counter>>();
  f->name_ = name;
  f->help_ = help;
  f->labels_ = std::move(labels);
  auto* p = f.get();
  counters_.push_back(std::move(f));
  push(metric_type::counter, std::move(name), std::move(help)).c = p;
  return *p;
}

family<gauge>& registry::add_gauge(std::string name, std::string help,
                                   std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto f = std::make_unique<family<gauge>>();
  f->name_ = name;
  f->help_ = help;
  f->labels_ = std::move(labels);
  auto* p = f.get();
  gauges_.push_back(std::move(f));
  push(metric_type::gauge, std::move(name), std::move(help)).g = p;
  return *p;
}

family<histogram>& registry::add_histogram(std::string name, std::string help,
                                           std::vector<double> bounds,
                                           std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto f = std::make_unique<family<histogram>>();
  f->name_ = name;
  f->help_ = help;
  f->labels_ = std::move(labels);
  f->bounds_ = std::move(bounds);
  auto* p = f.get();
  histograms_.push_back(std::move(f));
  push(metric_type::histogram, std::move(name), std::move(help)).h = p;
  return *p;
}

void registry::add_gauge_fn(std::string name, std::string help, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  push(metric_type::gauge, std::move(name), std::move(help)).fn = std::move(fn);
}

void registry::add_gauge_fns(std::string name, std::string help, std::string label,
                             std::vector<std::pair<std::string, std::function<double()>>> series) {
  std::lock_guard lock(mu_);
  auto& e = push(metric_type::gauge, std::move(name), std::move(help));
  e.fn_label = std::move(label);
  e.fn_series = std::move(series);
}

void registry::add_info_fn(std::string name, std::string help, std::string label,
                           std::function<std::string()> value, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  auto& e = push(metric_type::gauge, std::move(name), std::move(help));
  e.fn_label = std::move(label);
  e.info_value = std::move(value);
  e.fn = std::move(fn);
}

void registry::add_counter_fn(std::string name, std::string help, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  auto& e = push(metric_type::counter, std::move(name), std::move(help));
  e.fn = std::move(fn);
  e.fn_is_counter = true;
}

registry::entry& registry::push(metric_type type, std::string name, std::string help) {
  auto& e = order_.emplace_back();
  e.type = type;
  e.name = std::move(name);
  e.help = std::move(help);
  return e;
}

namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // The shortest text that reads back as the same double: 0.005 stays "0.005", and a start time
  // keeps its milliseconds.
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    s += s.empty() ? "{" : ",";
    s += names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    s += s.empty() ? "{" : ",";
    s += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  if (!s.empty()) s += "}";
  return s;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string registry::render() {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(8192);
  for (auto& e : order_) {
    if (e.info_value) {
      header(out, e.name, e.help, "gauge");
      auto value = e.info_value();
      const bool none = value.empty();
      if (none) value = "none";
      out += e.name + label_set({e.fn_label}, {value}) + " " + format_value(none ? 0 : e.fn()) + "\n";
    } else if (!e.fn_series.empty()) {
      header(out, e.name, e.help, "gauge");
      for (auto& [value, fn] : e.fn_series)
        out += e.name + label_set({e.fn_label}, {value}) + " " + format_value(fn()) + "\n";
    } else if (e.fn) {
      header(out, e.name, e.help, e.fn_is_counter ? "counter" : "gauge");
      out += e.name + " " + format_value(e.fn()) + "\n";
    } else if (e.c) {
      header(out, e.name, e.help, "counter");
      std::lock_guard l(e.c->mu_);
      for (auto& [values, cell] : e.c->cells_)
        out += e.name + label_set(e.c->labels_, values) + " " +
               format_value(static_cast<double>(cell->value())) + "\n";
    } else if (e.g) {
      header(out, e.name, e.help, "gauge");
      std::lock_guard l(e.g->mu_);
      for (auto& [values, cell] : e.g->cells_)
        out += e.name + label_set(e.g->labels_, values) + " " + format_value(cell->value()) + "\n";
    } else if (e.h) {
      header(out, e.name, e.help, "histogram");
      std::lock_guard l(e.h->mu_);
      for (auto& [values, cell] : e.h->cells_) {
        std::uint64_t cumulative = 0;
        const auto& b = cell->bounds();
        for (std::size_t i = 0; i < b.size(); ++i) {
          cumulative += cell->bucket(i);
          out += e.name + "_bucket" + label_set(e.h->labels_, values, "le", format_value(b[i])) +
                 " " + std::to_string(cumulative) + "\n";
        }
        cumulative += cell->bucket(b.size());
        out += e.name + "_bucket" + label_set(e.h->labels_, values, "le", "+Inf") + " " +
               std::to_string(cumulative) + "\n";
        out += e.name + "_sum" + label_set(e.h->labels_, values) + " " + format_value(cell->sum()) +
               "\n";
        out += e.name + "_count" + label_set(e.h->labels_, values) + " " +
               std::to_string(cell->count()) + "\n";
      }
    }
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
}

}  // namespace wcp::proxy
