"""Gradient-descent updates θ ← θ − α ∇L(θ) as fused in-place C++ kernels, and LR schedules."""
