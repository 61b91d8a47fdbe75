// Masked reconstruction and mask estimation (MAE, He et al. 2022 sec. 3; VIME, Yoon et al. 2020
// sec. 4.1).
//   masked_mse: L = Σ_e m_e (pred_e − target_e)² / Σ_e m_e   (0 with zero gradient when Σ m = 0)
//   mask_bce:   L = mean_e [ max(x_e, 0) − x_e m_e + log(1 + exp(−|x_e|)) ]   (BCE with logits)
// The mask is given per element, or per row of `cols` elements (mask_cols = 1: MAE's per-patch
// mask over patch pixels).
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

// pred, target (rows, cols); mask (rows, mask_cols) with mask_cols == cols or 1.
// partial: 2 * rows scratch. Writes dpred.
template <class T>
double masked_mse(const T* pred, const T* target, const T* mask, index_t rows, index_t cols, index_t mask_cols,
                  T* dpred, T* partial);

// Bytes of scratch masked_mse needs: 2 · rows partials.
template <class T>
std::size_t masked_mse_workspace(index_t rows) {
  return workspace_bytes([&](auto& c) { c.template take<T>(2 * rows); });
}
template <class T>
double masked_mse(const T* pred, const T* target, const T* mask, index_t rows, index_t cols, index_t mask_cols,
                  T* dpred, void* workspace) {
  WorkspaceCarver c(workspace);
  return masked_mse<T>(pred, target, mask, rows, cols, mask_cols, dpred, c.template take<T>(2 * rows));
}

// logits, mask (n elements as rows x cols). Writes dlogits; partial: rows scratch.
template <class T>
double mask_bce(const T* logits, const T* mask, index_t rows, index_t cols, T* dlogits, T* partial);

// Bytes of scratch mask_bce needs: rows partials.
template <class T>
std::size_t mask_bce_workspace(index_t rows) {
  return workspace_bytes([&](auto& c) { c.template take<T>(rows); });
}
template <class T>
double mask_bce(const T* logits, const T* mask, index_t rows, index_t cols, T* dlogits, void* workspace) {
  WorkspaceCarver c(workspace);
  return mask_bce<T>(logits, mask, rows, cols, dlogits, c.template take<T>(rows));
}

}  // namespace pyssl::loss
