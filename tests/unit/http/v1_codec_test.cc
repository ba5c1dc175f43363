#include "http/v1_codec.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sightline::http {
namespace {
namespace json = boost::json;

TEST(V1Codec, EmbeddingsRequestAndAnswer) {
  auto r =
      ParseEmbeddingsRequest(R"({"model":"m","input":["a","data:image/png;base64,aGk="],"dimensions":1})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto split = SplitEmbeddingInputs(*r);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->texts, std::vector<std::string>{"a"});
  ASSERT_EQ(split->images.size(), 1u);
  EXPECT_EQ(split->images[0].value, "hi");
  EXPECT_EQ(split->images[0].label, "input[1]");
  auto body = json::parse(EncodeEmbeddingsResponse(*r, "m", {{0.6f, 0.8f}, {0.1f, 0.0f}}, 3)).as_object();
  EXPECT_EQ(body.at("object").as_string(), "list");
  const auto& first = body.at("data").as_array()[0].as_object();
  EXPECT_EQ(first.at("index").to_number<int>(), 0);
  // dimensions=1: truncated and re-normalised.
  EXPECT_DOUBLE_EQ(first.at("embedding").as_array()[0].to_number<double>(), 1.0);
  EXPECT_EQ(body.at("usage").as_object().at("prompt_tokens").to_number<int>(), 3);
}

TEST(V1Codec, FloatsAreWrittenShortest) {
  EmbeddingsRequest r;
  r.input = {"x"};
  const std::string out = EncodeEmbeddingsResponse(r, "m", {{0.1f}}, 1);
  EXPECT_NE(out.find("\"embedding\":[1E-1]"), std::string::npos) << out;
}

TEST(V1Codec, LimitsAreRefusedUpFrontNamingTheLimit) {
  std::string many = R"({"input":[)";
  for (int i = 0; i < 2049; ++i) many += std::string(i ? "," : "") + "\"t\"";
  auto r = ParseEmbeddingsRequest(many + "]}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(r.status().kind(), ErrorKind::kLimitExceeded);
  EXPECT_NE(r.status().message().find("2048"), std::string::npos);
  for (const char* bad : {"[]", "{", R"({"input":[]})", R"({"input":5})",
                          R"({"input":"x","modality":"audio"})", R"({"input":"x","encoding_format":"int8"})",
                          R"({"input":"x","dimensions":-1})", R"({"input":"x","model":7})"})
    EXPECT_EQ(ParseEmbeddingsRequest(bad).status().code(), StatusCode::kInvalidArgument) << bad;
}

TEST(V1Codec, ClassifyFields) {
  ImageRequest req;
  req.images.push_back({sources::ImageSource::Kind::kBytes, "x", "body"});
  req.fields = {{"labels", " cat, dog ,,bird"}, {"top_k", "2"}, {"ensemble", "false"}};
  auto f = ParseClassifyFields(req);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->params.labels, (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(f->params.top_k, 2u);
  EXPECT_FALSE(f->params.ensemble);
  req.fields = {{"top_k", "0"}};
  EXPECT_EQ(ParseClassifyFields(req).status().code(), StatusCode::kInvalidArgument);
  req.fields = {{"colour", "red"}};
  EXPECT_NE(ParseClassifyFields(req).status().message().find("unknown parameter 'colour'"),
            std::string::npos);
  req.fields = {{"labels", "a"}, {"label_set", "animals"}};
  EXPECT_EQ(ParseClassifyFields(req).status().code(), StatusCode::kInvalidArgument);
}

TEST(V1Codec, ItemsCarryTheirOwnErrors) {
  tasks::EmbedImagesResult r;
  r.model = "m";
  r.items.resize(2);
  r.items[0].embedding = {1.0f};
  r.items[1].status = InvalidImage("images[1]: truncated");
  r.summary.succeeded = 1;
  r.summary.failed = 1;
  auto body = json::parse(EncodeEmbedResponse(r)).as_object();
  const auto& data = body.at("data").as_array();
  EXPECT_TRUE(data[0].as_object().at("caption").is_null());
  const auto& err = data[1].as_object().at("error").as_object();
  EXPECT_EQ(err.at("type").as_string(), "invalid_image");
  EXPECT_EQ(err.at("message").as_string(), "images[1]: truncated");
  EXPECT_EQ(body.at("failed").to_number<int>(), 1);
}

}  // namespace
}  // namespace sightline::http
