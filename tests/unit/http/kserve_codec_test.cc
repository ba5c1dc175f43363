#include "http/kserve_codec.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/half.h"

namespace sightline::http {
namespace {

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

TEST(KServeCodec, ParsesNestedJsonData) {
  auto r = ParseInferRequest(
      R"({"id":"7","inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[[1,2],[3.5,-4]]}]})",
      std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, "7");
  const Tensor& t = r->inputs.at(0);
  EXPECT_EQ(t.shape, (Shape{2, 2}));
  EXPECT_FLOAT_EQ(t.as<float>()[2], 3.5f);
  EXPECT_FLOAT_EQ(t.as<float>()[3], -4.0f);
}

TEST(KServeCodec, ParsesEveryScalarType) {
  auto r = ParseInferRequest(R"({"inputs":[
      {"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]},
      {"name":"u8","shape":[2],"datatype":"UINT8","data":[0,255]},
      {"name":"i64","shape":[1],"datatype":"INT64","data":[-9007199254740993]},
      {"name":"h","shape":[1],"datatype":"FP16","data":[1.5]},
      {"name":"d","shape":[1],"datatype":"FP64","data":[0.1]},
      {"name":"s","shape":[2],"datatype":"BYTES","data":["hi",""]}]})",
                             std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs[0].data, (TensorBuffer{1, 0}));
  EXPECT_EQ(r->inputs[1].data, (TensorBuffer{0, 255}));
  EXPECT_EQ(r->inputs[2].as<int64_t>()[0], -9007199254740993LL);
  EXPECT_FLOAT_EQ(HalfToFloat(r->inputs[3].as<uint16_t>()[0]), 1.5f);
  EXPECT_DOUBLE_EQ(r->inputs[4].as<double>()[0], 0.1);
  EXPECT_EQ(r->inputs[5].data.size(), 4u + 2u + 4u);
}

TEST(KServeCodec, SplitBodyHandsItsBinaryBufferToTheOneInputThatClaimsIt) {
  const std::vector<float> v{1, 2, 3, 4};
  TensorBuffer binary(16);
  std::memcpy(binary.data(), v.data(), 16);
  const uint8_t* where = binary.data();
  auto r = ParseInferRequest(
      R"({"inputs":[{"name":"a","shape":[4],"datatype":"FP32","parameters":{"binary_data_size":16}}]})",
      std::move(binary));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs[0].data.data(), where);  // adopted, not copied
  EXPECT_FLOAT_EQ(r->inputs[0].as<float>()[3], 4.0f);
}

TEST(KServeCodec, SplitBodyWithTwoBinaryInputsCopiesEach) {
  const std::vector<float> v{1, 2, 3, 4};
  TensorBuffer binary(16);
  std::memcpy(binary.data(), v.data(), 16);
  auto r = ParseInferRequest(R"({"inputs":[
      {"name":"a","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}},
      {"name":"b","shape":[3],"datatype":"FP32","parameters":{"binary_data_size":12}}]})",
                             std::move(binary));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FLOAT_EQ(r->inputs[0].as<float>()[0], 1.0f);
  EXPECT_FLOAT_EQ(r->inputs[1].as<float>()[2], 4.0f);
  TensorBuffer short_binary(8);
  EXPECT_NE(
      ParseInferRequest(
          R"({"inputs":[{"name":"a","shape":[4],"datatype":"FP32","parameters":{"binary_data_size":16}}]})",
          std::move(short_binary))
          .status()
          .message()
          .find("runs past the end of the body"),
      std::string::npos);
}

TEST(KServeCodec, RejectsOutOfRangeAndWrongKinds) {
  auto bad = [](const char* body) { return ParseInferRequest(body, std::nullopt).status(); };
  EXPECT_EQ(bad(R"({"inputs":[{"name":"u","shape":[1],"datatype":"UINT8","data":[256]}]})").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(R"({"inputs":[{"name":"i","shape":[1],"datatype":"INT32","data":[1.5]}]})").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(R"({"inputs":[{"name":"b","shape":[1],"datatype":"BOOL","data":[1]}]})").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP32","data":["x"]}]})").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP33","data":[1]}]})").message(),
            "input 'f' has unknown datatype 'FP33'");
  // Floats past their type's range: once inf or null in the answer (and UB for FP32).
  for (const char* body : {R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP32","data":[1e39]}]})",
                           R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP32","data":[-1e39]}]})",
                           R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP32","data":[1e400]}]})",
                           R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP64","data":[1e400]}]})",
                           R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP16","data":[70000]}]})",
                           R"({"inputs":[{"name":"f","shape":[1],"datatype":"BF16","data":[1e39]}]})"}) {
    const Status s = bad(body);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << body;
    EXPECT_NE(s.message().find("range"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(
      ParseInferRequest(R"({"inputs":[{"name":"f","shape":[2],"datatype":"FP32","data":[3.4e38,-3.4e38]}]})",
                        std::nullopt)
          .ok());
  EXPECT_TRUE(ParseInferRequest(R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP16","data":[65504]}]})",
                                std::nullopt)
                  .ok());
}

TEST(KServeCodec, DataCountMustMatchShape) {
  auto s =
      ParseInferRequest(R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5]}]})",
                        std::nullopt)
          .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "input 'x' has 5 values but shape [2,3] needs 6");
}

TEST(KServeCodec, MalformedJsonAndMissingFields) {
  EXPECT_EQ(ParseInferRequest("{\"inputs\":[", std::nullopt).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseInferRequest("[]", std::nullopt).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseInferRequest("{}", std::nullopt).status().message(), "'inputs' must be a non-empty list");
  EXPECT_EQ(ParseInferRequest(R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})", std::nullopt)
                .status()
                .message(),
            "an input has no 'name'");
  EXPECT_EQ(ParseInferRequest(R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]})",
                              std::nullopt)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(KServeCodec, ParsesBinaryExtension) {
  const std::string header =
      R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},)"
      R"({"name":"b","shape":[1],"datatype":"INT32","data":[5]}],)"
      R"("outputs":[{"name":"y","parameters":{"binary_data":true}},{"name":"z"}]})";
  const std::string body = header + Bytes({1.25f, -2.0f});
  auto r = ParseInferRequest(body, header.size());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FLOAT_EQ(r->inputs[0].as<float>()[0], 1.25f);
  EXPECT_FLOAT_EQ(r->inputs[0].as<float>()[1], -2.0f);
  EXPECT_EQ(r->inputs[1].as<int32_t>()[0], 5);
  ASSERT_EQ(r->outputs.size(), 2u);
  EXPECT_TRUE(r->outputs[0].binary);
  EXPECT_FALSE(r->outputs[1].binary);
}

TEST(KServeCodec, BinarySizesMustAgreeWithShapeAndBody) {
  const std::string h1 =
      R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":12}}]})";
  EXPECT_EQ(ParseInferRequest(h1 + Bytes({1, 2, 3}), h1.size()).status().message(),
            "input 'a' has 12 bytes but shape [1,2] of FP32 needs 8");
  const std::string h2 =
      R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  EXPECT_EQ(ParseInferRequest(h2 + Bytes({1}), h2.size()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseInferRequest(h2 + Bytes({1, 2, 3}), h2.size()).status().message(),
            "the body has 4 bytes of binary data that no input claims");
  EXPECT_EQ(ParseInferRequest(h2, h2.size() + 10).status().code(), StatusCode::kInvalidArgument);
}

TEST(KServeCodec, BinaryBytesElementsAreWalked) {
  const std::string h =
      R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":11}}]})";
  std::string payload;
  auto put = [&](std::string_view s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    payload.append(reinterpret_cast<const char*>(&n), 4);
    payload.append(s);
  };
  put("abc");
  payload.append("\x00\x00\x00\x00", 4);  // an empty element
  ASSERT_EQ(payload.size(), 11u);
  EXPECT_TRUE(ParseInferRequest(h + payload, h.size()).ok());
  std::string truncated = payload;
  truncated[0] = 100;  // first element claims more bytes than exist
  EXPECT_EQ(ParseInferRequest(h + truncated, h.size()).status().code(), StatusCode::kInvalidArgument);
}

TEST(KServeCodec, EncodesJsonAndBinaryOutputs) {
  Tensor y{"y", DataType::kFp32, {1, 2}, {}};
  y.data.resize(8);
  y.as<float>()[0] = 0.5f;
  y.as<float>()[1] = 3.0f;
  Tensor z{"z", DataType::kInt64, {1}, {}};
  z.data.resize(8);
  z.as<int64_t>()[0] = -7;
  auto json_only = EncodeInferResponse("m", "1", "id9", {y, z}, {}, false);
  EXPECT_FALSE(json_only.json_length);
  EXPECT_EQ(json_only.body, R"({"model_name":"m","model_version":"1","id":"id9","outputs":[)"
                            R"({"name":"y","datatype":"FP32","shape":[1,2],"data":[0.5,3]},)"
                            R"({"name":"z","datatype":"INT64","shape":[1],"data":[-7]}]})");
  auto mixed = EncodeInferResponse("m", "1", "", {y, z}, {{"y", true}, {"z", false}}, false);
  ASSERT_TRUE(mixed.json_length);
  const std::string header = mixed.body.substr(0, *mixed.json_length);
  EXPECT_NE(header.find(R"("parameters":{"binary_data_size":8})"), std::string::npos);
  EXPECT_EQ(mixed.body.size(), *mixed.json_length + 8);
  float back[2];
  std::memcpy(back, mixed.body.data() + *mixed.json_length, 8);
  EXPECT_FLOAT_EQ(back[1], 3.0f);
}

TEST(KServeCodec, ParametersAreRead) {
  auto r = ParseInferRequest(
      R"({"parameters":{"priority":2,"timeout":1500,"binary_data_output":true},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->priority, 2);
  EXPECT_EQ(r->timeout_us, 1500);
  EXPECT_TRUE(r->binary_data_output);
  EXPECT_EQ(
      ParseInferRequest(
          R"({"parameters":{"timeout":-1},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
          std::nullopt)
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sightline::http
