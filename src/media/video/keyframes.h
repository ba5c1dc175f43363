// Choosing and comparing keyframes, for video summaries:
//  - FrameSharpness: the variance of the Laplacian of a frame's luma (Pech-Pacheco et al., "Diatom
//    autofocusing in brightfield microscopy", ICPR 2000; OpenCV users know it as
//    cv2.Laplacian(gray, CV_64F).var()), computed on the analysis frames during the one decode pass;
//  - ChooseKeyframes: per shot its sharpest frame away from the shot's edges (transitions blur
//    them), and one per `long_shot_s` stretch of a long shot, at most `max_per_shot`;
//  - DifferenceHash: a 64-bit perceptual hash (dHash: Krawetz, "Kind of Like That", 2013) of a
//    keyframe, whose Hamming distance to another's says how alike the two pictures are when no
//    CLIP model is there to say it.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "media/video/shot_detection.h"
#include "media/video/video_decoder.h"

namespace sightline::media {

// Variance of the 4-neighbour Laplacian of BT.601 luma over the frame's interior; 0 for frames
// smaller than 3x3. Units: squared 8-bit luma levels.
double FrameSharpness(const AnalysisFrame& frame);

struct KeyframeOptions {
  double long_shot_s = 10.0;  // a shot longer than this gets one keyframe per this many seconds
  int max_per_shot = 4;
};
Status ValidateKeyframeOptions(const KeyframeOptions& options);

struct KeyframeChoice {
  int shot = 0;
  int64_t frame = 0;
  double time_s = 0;
  double sharpness = 0;
};

// `sharpness` and `times` are per decoded frame (index = frame). In shot order, then time order.
std::vector<KeyframeChoice> ChooseKeyframes(const std::vector<Shot>& shots,
                                            const std::vector<double>& sharpness,
                                            const std::vector<double>& times, const KeyframeOptions& options);

// dHash of an RGB image (packed rows, stride width*3): a 9x8 area-averaged luma thumbnail, one
// bit per horizontally adjacent pair (left brighter than right).
uint64_t DifferenceHash(const uint8_t* rgb, int width, int height);
int HammingDistance(uint64_t a, uint64_t b);

}  // namespace sightline::media
