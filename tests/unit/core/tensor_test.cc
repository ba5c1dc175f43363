#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/half.h"

namespace sightline {
namespace {

TEST(Tensor, DataTypeNamesRoundTrip) {
  for (auto t : {DataType::kBool, DataType::kUint8, DataType::kInt64, DataType::kFp16, DataType::kBf16,
                 DataType::kFp32, DataType::kFp64, DataType::kBytes}) {
    auto back = ParseDataType(DataTypeName(t));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, t);
  }
  EXPECT_FALSE(ParseDataType("fp32").has_value());
  EXPECT_EQ(DataTypeSize(DataType::kFp16), 2u);
}

TEST(Tensor, ElementCountChecksOverflowAndNegatives) {
  EXPECT_EQ(ElementCount({2, 3, 4}).value(), 24);
  EXPECT_EQ(ElementCount({}).value(), 1);
  EXPECT_FALSE(ElementCount({-1, 3}).ok());
  EXPECT_FALSE(ElementCount({1LL << 40, 1LL << 40}).ok());
}

TEST(Tensor, ValidateBytes) {
  Tensor t{"x", DataType::kInt32, {2, 2}, TensorBuffer(16)};
  EXPECT_TRUE(ValidateTensorBytes(t).ok());
  t.data.resize(12);
  EXPECT_EQ(ValidateTensorBytes(t).message(), "input 'x' has 12 bytes but shape [2,2] of INT32 needs 16");
  Tensor s{"s", DataType::kBytes, {1}, {1, 0, 0, 0, 'a'}};
  EXPECT_TRUE(ValidateTensorBytes(s).ok());
  s.shape = {2};
  EXPECT_FALSE(ValidateTensorBytes(s).ok());
}

TEST(Half, RoundTripsRepresentableValues) {
  for (float f :
       {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f, 0.333251953125f})
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(1.0f + 1.0f / 2048), 0x3c00);  // tie rounds to even
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.5f)), 1.5f);
}

}  // namespace
}  // namespace sightline
