// Checkpoints: named tensors in one binary file (format: docs/checkpoint-format.md).
//
//   tg::save({{"w", w}, {"b", b}}, "model.tgckpt");
//   tg::load_into({{"w", w}, {"b", b}}, "model.tgckpt");  // checks everything, then copies
//   tg::save(model, "model.tgckpt");   tg::load_into(model, "model.tgckpt");   // a module
//
// Files are written atomically (temp file in the same directory, fsync, rename), so a
// crash leaves either the old file or the new one, never half a file. Reading checks the
// magic, version, declared length and a CRC32 of the whole file before trusting any of it;
// every failure throws tg::Error naming the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

namespace nn {
class Module;
}

// Ordered (name, tensor) pairs; names are unique within one checkpoint.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes the tensors' values (not their autograd state). Throws on an undefined tensor,
// an empty or duplicate name, or an I/O failure (the previous file, if any, is kept).
void save(const NamedTensors& tensors, const std::string& path);

// Reads every tensor back as a new contiguous tensor, in the saved order, bit-exact.
NamedTensors load(const std::string& path);

// Copies a checkpoint into existing tensors. Every target name must be in the file with
// the same shape and dtype, and the file must hold no other name; all of this is checked
// before the first copy, so on any error the targets are unchanged. Writing into leaves
// that require grad is allowed (the copy is not recorded on the tape).
void load_into(const NamedTensors& targets, const std::string& path);

// A module's state: named_parameters() then named_buffers() (BatchNorm's running
// statistics), with dotted names ("conv1.weight", "bn1.running_mean").
NamedTensors state_dict(const nn::Module& module);
// tg::save / tg::load_into of a module's state_dict.
void save(const nn::Module& module, const std::string& path);
void load_into(nn::Module& module, const std::string& path);

}  // namespace tg

TG_PUBLIC_END
