// IDX files (the MNIST / Fashion-MNIST format), plain or gzip'd.
#pragma once

#include <string>

#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::data {

// Reads an IDX file into a tensor of its stored shape. unsigned-byte data becomes int64
// (labels) when `as_float` is false; with `as_float` every type becomes float32, with
// unsigned bytes scaled to [0, 1]. A truncated, wrong-magic or size-mismatched file throws
// tg::Error naming the file.
Tensor load_idx(const std::string& path, bool as_float = false);

}  // namespace tg::data

TG_PUBLIC_END
