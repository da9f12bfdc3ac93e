// TG_ARG: declares an option of an options struct the libtorch way (TORCH_ARG):
// `name()` reads it, `name(value)` sets it and returns the options, so setters chain:
// `tg::optim::AdamOptions(1e-3).betas({0.9, 0.999}).weight_decay(1e-4)`.
#pragma once

#define TG_ARG(T, name, default_value)             \
public:                                            \
    auto name(const T& value)->decltype(*this) {   \
        name##_ = value;                           \
        return *this;                              \
    }                                              \
    const T& name() const { return name##_; }      \
                                                   \
private:                                           \
    T name##_ = default_value
