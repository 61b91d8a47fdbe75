// DINO (Caron et al. 2021, sec. 3.1 and Alg. 1; official main_dino.py DINOLoss):
//   q_v = softmax((t_v − C)/τ_t) (teacher, constant), log p_u = log_softmax(s_u/τ_s) (student),
//   L = 1/(N · #pairs) Σ_{v < Vt} Σ_{u < Vs, u ≠ v} Σ_n −q_vn · log p_un,  #pairs = Vt·Vs − Vt.
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

template <class T>
struct DinoWork {
  T* tq;       // (Vt, N, K) teacher probabilities
  T* qtot;     // (N, K) Σ_v q_v
  T* partial;  // (Vs · N,)
};

// student (Vs, N, K), teacher (Vt, N, K), center (K,). Writes dstudent (Vs, N, K).
template <class T>
double dino(const T* student, const T* teacher, const T* center, index_t vs, index_t vt, index_t n, index_t k,
            T student_temp, T teacher_temp, T* dstudent, const DinoWork<T>& w);

template <class T, class Carver>
DinoWork<T> dino_layout(Carver& c, index_t vs, index_t vt, index_t n, index_t k) {
  return {c.template take<T>(vt * n * k), c.template take<T>(n * k), c.template take<T>(vs * n)};
}
// Bytes of scratch dino needs (one block, see core/workspace.hpp).
template <class T>
std::size_t dino_workspace(index_t vs, index_t vt, index_t n, index_t k) {
  return workspace_bytes([&](auto& c) { dino_layout<T>(c, vs, vt, n, k); });
}
template <class T>
double dino(const T* student, const T* teacher, const T* center, index_t vs, index_t vt, index_t n, index_t k,
            T student_temp, T teacher_temp, T* dstudent, void* workspace) {
  WorkspaceCarver c(workspace);
  return dino<T>(student, teacher, center, vs, vt, n, k, student_temp, teacher_temp, dstudent,
                 dino_layout<T>(c, vs, vt, n, k));
}

// center ← m · center + (1 − m) · mean over the Vt·N teacher rows (fixed-order sums).
template <class T>
void dino_update_center(T* center, const T* teacher, index_t rows, index_t k, T momentum);

}  // namespace pyssl::loss
