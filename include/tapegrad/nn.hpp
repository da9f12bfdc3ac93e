// tg::nn: modules, layers, initializers and the functional ops behind them.
#pragma once

#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/loss.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/modules.hpp"
#include "tapegrad/nn/rnn.hpp"
