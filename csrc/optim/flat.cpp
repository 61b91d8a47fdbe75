#include "optim/flat.hpp"

#include <utility>

namespace pyssl::optim {

FlatLayout::FlatLayout(std::vector<index_t> offsets, std::vector<std::uint8_t> decay, index_t block_size)
    : offsets_(std::move(offsets)), decay_(std::move(decay)), block_size_(block_size) {
  PYSSL_CHECK(block_size_ >= 1, "block_size must be >= 1, got ", block_size_);
  PYSSL_CHECK(!offsets_.empty(), "offsets must have P+1 >= 1 entries, got an empty array");
  PYSSL_CHECK(offsets_[0] == 0, "offsets must start at 0, got offsets[0] = ", offsets_[0]);
  const index_t P = index_t(offsets_.size()) - 1;
  for (index_t p = 0; p < P; ++p)
    PYSSL_CHECK(offsets_[p + 1] >= offsets_[p], "offsets must be non-decreasing, got offsets[", p + 1, "] = ",
                offsets_[p + 1], " < offsets[", p, "] = ", offsets_[p]);
  if (decay_.empty()) decay_.assign(size_t(P), 1);
  PYSSL_CHECK(index_t(decay_.size()) == P, "decay must have one flag per parameter (", P, "), got ",
              decay_.size());
  for (index_t p = 0; p < P; ++p) {
    for (index_t b = offsets_[p]; b < offsets_[p + 1]; b += block_size_) {
      const index_t e = b + block_size_ < offsets_[p + 1] ? b + block_size_ : offsets_[p + 1];
      blocks_.push_back(Block{p, b, e});
    }
  }
}

}  // namespace pyssl::optim
