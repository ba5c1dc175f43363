#include "tasks/image_metadata.h"

#include <mutex>

namespace sightline::tasks {

void ReadImagesMetadata(const ImageTaskDeps& deps, std::vector<sources::ImageSource> images,
                        RequestContextPtr context, std::function<void(ImageMetadataResult)> done) {
  struct State {
    std::mutex mu;
    ImageMetadataResult result;
  };
  auto st = std::make_shared<State>();
  st->result.items.resize(images.size(), Status(StatusCode::kInternal, "not read"));
  auto work = [deps, st](size_t i, sources::Bytes bytes, ItemRun::Finish finish) {
    const auto t0 = std::chrono::steady_clock::now();
    auto md = ReadMetadata(deps, *bytes);  // on the work pool
    StageTiming t;
    t.decode_ms = MsSince(t0);
    Status s = md.status();
    {
      std::lock_guard lock(st->mu);
      st->result.items[i] = std::move(md);
    }
    finish(s, t, false);
  };
  auto report = [st](size_t i, const Status& s, const StageTiming&) {
    std::lock_guard lock(st->mu);
    if (!s.ok()) st->result.items[i] = s;
  };
  // Metadata reads no pixels: a wide window.
  ItemRun::Start(deps, std::move(images), 32, context, work, report, [st, done](BatchSummary summary) {
    std::unique_lock lock(st->mu);
    st->result.summary = summary;
    ImageMetadataResult out = std::move(st->result);
    lock.unlock();
    done(std::move(out));
  });
}

}  // namespace sightline::tasks
