// Kernel-owned scratch: a kernel that needs temporary arrays describes them once, in a layout
// function, and that one description gives both the byte size its caller must provide and the
// typed pointers the kernel carves out of the block. Callers (the bindings) never know what is
// inside a workspace, so a kernel can change its scratch without any binding change.
//
//   template <class T, class Carver>
//   FooWork<T> foo_layout(Carver& c, index_t n, index_t d) {
//     return {c.template take<T>(n * d), c.template take<double>(d)};
//   }
//   template <class T> std::size_t foo_workspace(index_t n, index_t d) {
//     return workspace_bytes([&](auto& c) { foo_layout<T>(c, n, d); });
//   }
//   template <class T> double foo(..., void* workspace) {
//     WorkspaceCarver c(workspace);
//     return foo(..., foo_layout<T>(c, n, d));
//   }
//
// Every piece starts on a 64-byte boundary (a cache line, and the alignment the buffer cache
// gives the block itself), so carved arrays are as aligned as separately allocated ones.
#pragma once
#include <cstddef>

#include "core/check.hpp"

namespace pyssl {

class WorkspaceCarver {
 public:
  static constexpr std::size_t kAlign = 64;

  // base == nullptr: count only (take returns nullptr and bytes() is the size needed).
  explicit WorkspaceCarver(void* base = nullptr) : base_(static_cast<char*>(base)) {}

  // The next `count` elements of type U (count <= 0 takes nothing but still returns an aligned
  // pointer inside the block, never dereferenced by a kernel).
  template <class U>
  U* take(index_t count) {
    offset_ = (offset_ + kAlign - 1) / kAlign * kAlign;
    U* p = base_ != nullptr ? reinterpret_cast<U*>(base_ + offset_) : nullptr;
    if (count > 0) offset_ += static_cast<std::size_t>(count) * sizeof(U);
    return p;
  }

  std::size_t bytes() const { return offset_; }

 private:
  char* base_;
  std::size_t offset_ = 0;
};

// Bytes a layout needs: run it on a counting carver.
template <class Layout>
inline std::size_t workspace_bytes(Layout&& layout) {
  WorkspaceCarver c;
  layout(c);
  return c.bytes();
}

}  // namespace pyssl
