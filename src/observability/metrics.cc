#include "observability/metrics.h"

#include <cmath>
#include <cstdio>

namespace sightline::observability {
namespace {

void AppendNumber(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

void AppendEscaped(std::string& out, const std::string& v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const char* extra_name = nullptr,
                  const std::string& extra_value = {}) {
  if (names.empty() && !extra_name) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i]);
    out += '"';
  }
  if (extra_name) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

template <typename M>
std::unique_ptr<M> MakeChild(const std::vector<double>&) {
  return std::make_unique<M>();
}
template <>
std::unique_ptr<Histogram> MakeChild<Histogram>(const std::vector<double>& bounds) {
  return std::make_unique<Histogram>(bounds);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; ++i) b.push_back(start + width * i);
  return b;
}

template <typename M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, MakeChild<M>(bounds_)).first;
  return *it->second;
}

template <typename M>
void Family<M>::Render(std::string& out, MetricType type) const {
  out += "# HELP " + name_ + " " + help_ + "\n";
  out += "# TYPE " + name_ + " " + TypeName(type) + "\n";
  std::lock_guard lock(mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<M, Histogram>) {
      const auto counts = child->CumulativeCounts();
      const auto& bounds = child->bounds();
      for (size_t i = 0; i < counts.size(); ++i) {
        std::string le;
        if (i < bounds.size())
          AppendNumber(le, bounds[i]);
        else
          le = "+Inf";
        out += name_ + "_bucket";
        AppendLabels(out, label_names_, values, "le", le);
        out += ' ' + std::to_string(counts[i]) + '\n';
      }
      out += name_ + "_sum";
      AppendLabels(out, label_names_, values);
      out += ' ';
      AppendNumber(out, child->Sum());
      out += '\n';
      out += name_ + "_count";
      AppendLabels(out, label_names_, values);
      out += ' ' + std::to_string(child->Count()) + '\n';
    } else {
      out += name_;
      AppendLabels(out, label_names_, values);
      out += ' ';
      AppendNumber(out, child->Value());
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                             std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  counters_.push_back(std::make_unique<Family<Counter>>(name, help, std::move(labels)));
  return *counters_.back();
}

Family<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                         std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(labels)));
  return *gauges_.back();
}

Family<Histogram>& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                                 std::vector<std::string> labels,
                                                 std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(
      std::make_unique<Family<Histogram>>(name, help, std::move(labels), std::move(bounds)));
  return *histograms_.back();
}

void MetricsRegistry::AddCollector(std::function<void()> collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& collect : collectors_) collect();  // they only set gauges (atomics)
  for (const auto& f : counters_) f->Render(out, MetricType::kCounter);
  for (const auto& f : gauges_) f->Render(out, MetricType::kGauge);
  for (const auto& f : histograms_) f->Render(out, MetricType::kHistogram);
  return out;
}

}  // namespace sightline::observability
