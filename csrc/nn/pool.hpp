// Global average pooling over the trailing spatial axis: x (N, C, S) -> y (N, C), y = mean_s x.
#pragma once
#include "core/check.hpp"

namespace pyssl::nn {

template <class T>
void global_avg_pool_forward(const T* x, T* y, index_t rows, index_t s);

// dx[r, s] = dy[r] / S
template <class T>
void global_avg_pool_backward(const T* dy, T* dx, index_t rows, index_t s);

}  // namespace pyssl::nn
