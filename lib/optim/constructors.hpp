// The two constructors every optimizer has, written once for lib/optim/<name>.cpp.
#pragma once

#include <utility>
#include <vector>

#include "tapegrad/optim.hpp"

// Name(params, defaults) and Name(groups, defaults) over Name##Options, as libtorch has them.
// The groups are added in the derived constructor's body (init_groups), when the object is
// complete, so that add_param_group's checks reach its check_options.
#define TG_OPTIMIZER_CONSTRUCTORS(Name)                                                                 \
    Name::Name(std::vector<Tensor> params, const Name##Options& defaults)                               \
        : Name(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {} \
    Name::Name(std::vector<OptimizerParamGroup> groups, const Name##Options& defaults)                  \
        : Optimizer(defaults.clone()) {                                                                 \
        init_groups(std::move(groups));                                                                 \
    }
