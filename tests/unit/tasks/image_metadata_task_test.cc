// Tasks run without HTTP: the metadata task resolves every source, reads metadata on the work
// pool (never on the caller's thread), and answers each item in order with its own error.
#include "tasks/image_metadata.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <future>
#include <mutex>
#include <set>

namespace sightline::tasks {
namespace {

std::string ThreadName() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

TEST(ImageMetadataTask, ReadsOnTheWorkPoolAndAnswersEveryItem) {
  ThreadPool pool(2, "sl-decode");
  sources::SourceResolver resolver(nullptr, nullptr, nullptr);  // inline bytes only
  std::mutex mu;
  std::set<std::string> threads;
  ImageTaskDeps deps;
  deps.sources = &resolver;
  deps.pool = &pool;
  deps.read_metadata = [&](const uint8_t* data, size_t size) -> Result<media::ImageMetadata> {
    {
      std::lock_guard lock(mu);
      threads.insert(ThreadName());
    }
    if (size < 3 || data[0] != 'o') return InvalidImage("not an image");
    media::ImageMetadata m;
    m.format = "test";
    m.width = static_cast<int>(size);
    return m;
  };
  std::vector<sources::ImageSource> images;
  for (const char* b : {"ok-1", "bad", "ok-three", "", "okay"})
    images.push_back({sources::ImageSource::Kind::kBytes, b, std::string("images[") + b + "]"});
  images.push_back({sources::ImageSource::Kind::kUrl, "http://example.com/x.jpg", "image_urls[0]"});
  std::promise<ImageMetadataResult> p;
  ReadImagesMetadata(deps, images, BackgroundContext(),
                     [&](ImageMetadataResult r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  ASSERT_EQ(r.items.size(), 6u);
  EXPECT_EQ(r.items[0].metadata.width, 4);
  EXPECT_EQ(r.items[1].status.kind(), ErrorKind::kInvalidImage);
  EXPECT_EQ(r.items[2].metadata.width, 8);
  EXPECT_EQ(r.items[3].status.kind(), ErrorKind::kInvalidImage);  // empty bytes
  EXPECT_EQ(r.items[4].metadata.width, 4);
  EXPECT_EQ(r.items[5].status.code(), StatusCode::kForbidden);  // no fetcher configured
  EXPECT_EQ(r.summary.succeeded, 3u);
  EXPECT_EQ(r.summary.failed, 3u);
  EXPECT_EQ(threads, std::set<std::string>{"sl-decode"});
}

TEST(ImageMetadataTask, CancelledRequestStopsAdmittingItems) {
  ThreadPool pool(1, "sl-decode");
  sources::SourceResolver resolver(nullptr, nullptr, nullptr);
  ImageTaskDeps deps;
  deps.sources = &resolver;
  deps.pool = &pool;
  int reads = 0;
  deps.read_metadata = [&](const uint8_t*, size_t) -> Result<media::ImageMetadata> {
    ++reads;  // one pool thread: no race
    return media::ImageMetadata{};
  };
  auto ctx = std::make_shared<RequestContext>();
  ctx->cancel = std::make_shared<CancelToken>();
  ctx->cancel->Cancel();
  std::vector<sources::ImageSource> images(100, {sources::ImageSource::Kind::kBytes, "okay", "x"});
  std::promise<ImageMetadataResult> p;
  ReadImagesMetadata(deps, images, ctx, [&](ImageMetadataResult r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  EXPECT_EQ(reads, 0);
  EXPECT_EQ(r.summary.failed, 100u);
  EXPECT_EQ(r.items[7].status.code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace sightline::tasks
