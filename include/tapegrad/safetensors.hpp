// safetensors files: the format PyTorch / Hugging Face use to exchange weights
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header size, a JSON
// header {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}, then the raw little-endian tensor bytes.
//
//   tg::save_safetensors(model, "model.safetensors");        // parameters + buffers
//   tg::load_safetensors_into(model, "model.safetensors");   // checks everything, then copies
//   tg::NamedTensors all = tg::load_safetensors("from_torch.safetensors");
//
// Names are the dotted module paths ("fc1.weight", "bn.running_mean"), which are also
// PyTorch's state_dict keys for the same layer tree (docs/safetensors.md has the mapping).
// Dtypes: F32, F64, I64 and BOOL (tapegrad's dtypes); other safetensors dtypes are
// rejected with a clear error. Writing is atomic and reading validates the whole header
// (offsets in range, non-overlapping and covering the data, known dtypes, shape × dtype =
// byte count) before any tensor is created; every failure throws tg::Error naming the
// file, the tensor and the problem.
#pragma once

#include <map>
#include <string>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/serialize.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

// Free-form string pairs stored under "__metadata__".
using SafetensorsMetadata = std::map<std::string, std::string>;

// Writes the tensors' values in the given order. Throws on an undefined tensor, an empty,
// duplicate or reserved ("__metadata__") name, or an I/O failure (the previous file, if
// any, is kept).
void save_safetensors(const NamedTensors& tensors, const std::string& path,
                      const SafetensorsMetadata& metadata = {});
// A module's parameters and buffers (named_parameters() + named_buffers()).
void save_safetensors(const nn::Module& module, const std::string& path,
                      const SafetensorsMetadata& metadata = {});

// Reads every tensor as a new contiguous tensor, in the order of the data in the file;
// `metadata`, if given, receives the "__metadata__" pairs.
NamedTensors load_safetensors(const std::string& path, SafetensorsMetadata* metadata = nullptr);

// Copies a file into existing tensors: every target name must be in the file with the same
// shape and dtype, and the file must hold no other tensor; all of this is checked before
// the first copy, so on any error the targets are unchanged (as tg::load_into).
void load_safetensors_into(const NamedTensors& targets, const std::string& path);
// Into a module's parameters and buffers.
void load_safetensors_into(nn::Module& module, const std::string& path);

}  // namespace tg

TG_PUBLIC_END
