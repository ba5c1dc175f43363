// The stateful session on the real ONNX Runtime, over the `simple` fixture (OUTPUT0 = a + b,
// OUTPUT1 = a - b): bound inputs stay bound across runs, outputs are read in place, and an output
// carried into an input feeds the next run without a copy — a decoder's KV-cache step in small.
#include <gtest/gtest.h>

#include "model_fixtures.h"

#include <cstring>
#include <filesystem>

#include "runtime/onnxruntime/ort_backend.h"

namespace sightline::runtime {
namespace {

Tensor Row(float start) {
  Tensor t;
  t.dtype = DataType::kFp32;
  t.shape = {1, 16};
  t.data.resize(16 * 4);
  for (int i = 0; i < 16; ++i) t.as<float>()[i] = start + static_cast<float>(i);
  return t;
}

std::vector<float> Floats(const TensorView& v) {
  std::vector<float> out(v.bytes / 4);
  std::memcpy(out.data(), v.data, v.bytes);
  return out;
}

TEST(StatefulSession, OutputsCarryIntoTheNextRunInPlace) {
  const std::filesystem::path file = ModelFixturesDir() / "simple" / "model.onnx";
  ASSERT_TRUE(std::filesystem::exists(file)) << file << " is missing: run scripts/gen_fixtures.py";
  auto factory = CreateOrtBackendFactory("test");
  ASSERT_TRUE(factory.ok());
  auto backend = factory.value()->Load(file, {});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  auto session = backend.value()->OpenSession();
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto& s = *session.value();

  Tensor x = Row(0), one = Row(1);
  for (int i = 0; i < 16; ++i) one.as<float>()[i] = 1.0f;
  EXPECT_EQ(s.Run().code(), StatusCode::kInvalidArgument);  // nothing bound yet
  ASSERT_TRUE(s.BindInput("INPUT0", x).ok());
  ASSERT_TRUE(s.BindInput("INPUT1", one).ok());
  EXPECT_EQ(s.BindInput("NOPE", x).code(), StatusCode::kNotFound);
  ASSERT_TRUE(s.Run().ok());
  auto first = s.Output("OUTPUT0");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->shape, (Shape{1, 16}));
  EXPECT_FLOAT_EQ(Floats(*first)[3], 4.0f);  // 3 + 1
  const uint8_t* first_buffer = first->data;

  // OUTPUT0 becomes INPUT0; INPUT1 stays bound: three steps add three.
  for (int step = 0; step < 3; ++step) {
    ASSERT_TRUE(s.CarryOver("OUTPUT0", "INPUT0").ok());
    ASSERT_TRUE(s.Run().ok());
  }
  auto out = s.Output("OUTPUT0");
  ASSERT_TRUE(out.ok());
  EXPECT_FLOAT_EQ(Floats(*out)[3], 7.0f);                         // 3 + 4 steps of +1
  EXPECT_FLOAT_EQ(Floats(s.Output("OUTPUT1").value())[3], 5.0f);  // the carried input (6) - 1
  EXPECT_NE(out->data, first_buffer);  // each run writes a fresh buffer; the carried one is the input
  // The caller's tensor was never written: inputs are read in place, outputs are ORT's.
  EXPECT_FLOAT_EQ(x.as<float>()[3], 3.0f);
  EXPECT_EQ(s.CarryOver("NOPE", "INPUT0").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sightline::runtime
