// Checkpoints of whole modules: their parameters and buffers under dotted names.
#include "tapegrad/nn/module.hpp"
#include "tapegrad/serialize.hpp"

namespace tg {

NamedTensors state_dict(const nn::Module& module) {
    NamedTensors state = module.named_parameters();
    for (auto& named : module.named_buffers()) state.push_back(std::move(named));
    return state;
}

void save(const nn::Module& module, const std::string& path) { save(state_dict(module), path); }

void load_into(nn::Module& module, const std::string& path) { load_into(state_dict(module), path); }

}  // namespace tg
