// The one header an eager tapegrad program includes.
#pragma once

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/data/idx.hpp"
#include "tapegrad/debug.hpp"
#include "tapegrad/dtype.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/optim.hpp"
#include "tapegrad/safetensors.hpp"
#include "tapegrad/serialize.hpp"
#include "tapegrad/shape.hpp"
#include "tapegrad/summary.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/variable_store.hpp"
