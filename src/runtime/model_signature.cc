#include "runtime/model_signature.h"

namespace sightline::runtime {

const TensorSpec* ModelSignature::FindInput(const std::string& name) const {
  for (const auto& t : inputs)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorSpec* ModelSignature::FindOutput(const std::string& name) const {
  for (const auto& t : outputs)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace sightline::runtime
