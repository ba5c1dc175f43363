#include "observability/metrics.h"

#include <gtest/gtest.h>

namespace sightline::observability {
namespace {

TEST(Metrics, RendersPrometheusText) {
  MetricsRegistry r;
  auto& c = r.AddCounter("req_total", "Requests", {"route", "status"});
  c.WithLabels({"/v2/x", "200"}).Inc();
  c.WithLabels({"/v2/x", "200"}).Inc(2);
  c.WithLabels({"say \"hi\"", "503"}).Inc();
  auto& h = r.AddHistogram("lat_seconds", "Latency", {"model"}, {0.1, 1.0});
  h.WithLabels({"m"}).Observe(0.05);
  h.WithLabels({"m"}).Observe(0.5);
  h.WithLabels({"m"}).Observe(5);
  r.AddGauge("up", "Up").WithLabels({}).Set(1);
  const std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE req_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("req_total{route=\"/v2/x\",status=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("req_total{route=\"say \\\"hi\\\"\",status=\"503\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{model=\"m\",le=\"0.10000000000000001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{model=\"m\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{model=\"m\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count{model=\"m\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum{model=\"m\"} 5.5499999999999998\n"), std::string::npos);
  EXPECT_NE(text.find("up 1\n"), std::string::npos);
}

TEST(Metrics, ChildrenAreStable) {
  MetricsRegistry r;
  auto& f = r.AddCounter("x_total", "x", {"a"});
  Counter* first = &f.WithLabels({"1"});
  for (int i = 0; i < 100; ++i) f.WithLabels({std::to_string(i + 2)});
  EXPECT_EQ(first, &f.WithLabels({"1"}));
}

}  // namespace
}  // namespace sightline::observability
