// Explicit instantiation for the two scalar types every kernel supports:
// float32 in production, float64 for gradient checks.
#pragma once
#define PYSSL_INSTANTIATE_FLOATS(MACRO) \
  MACRO(float)                          \
  MACRO(double)
