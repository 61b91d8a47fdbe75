// Bindings for the mixed-type table corruptions (csrc/augment/table.hpp). pyssl/pretext/table.py
// validates first with clear messages. Toolkit: python/bind_toolkit.hpp. No math here.
#include <cstdint>

#include "augment/common.hpp"
#include "augment/table.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

using i64 = std::int64_t;
using augment::u64;

struct Groups {
  Array<const i64> start, cols;
  index_t count;
};

Groups groups_of(const py::array& start_, const py::array& cols_) {
  Groups g{arg_nd<i64>(start_, "group_start", 1), arg_nd<i64>(cols_, "group_cols", 1), 0};
  g.count = g.start.size() - 1;
  if (g.count < 1) fail("group_start must have at least 2 entries, got ", describe(start_));
  if (g.cols.size() < g.start.data[g.count])
    fail("group_cols has ", g.cols.size(), " entries but group_start ends at ", g.start.data[g.count]);
  return g;
}

// Validated (x, reference, groups) and the two outputs of a table corruption.
template <class T>
struct TableCall {
  Array<const T> x, ref;
  Groups g;
  index_t n, w, nr;
  Out<T> out, mask;
};

template <class T>
TableCall<T> table_call(const py::array& x_, const py::array& ref_, const py::array& start, const py::array& cols) {
  auto x = arg_nd<T>(x_, "x", 2);
  auto ref = arg_nd<T>(ref_, "reference", 2);
  const index_t n = x.dim(0), w = x.dim(1), nr = ref.dim(0);
  if (n < 1 || w < 1) fail("x must be a non-empty (N, W) batch, got ", describe(x_));
  if (u64(n) >= augment::kMaxSamples) fail("x has too many rows: ", describe(x_));
  if (ref.dim(1) != w) fail("reference must have x's width ", w, ", got ", describe(ref_));
  Groups g = groups_of(start, cols);
  return {x, ref, g, n, w, nr, out<T>({n, w}), out<T>({n, g.count})};
}

template <class T>
py::tuple table_scarf(const py::array& x_, const py::array& ref_, const py::array& start, const py::array& cols,
                      index_t k, std::uint64_t seed) {
  auto c = table_call<T>(x_, ref_, start, cols);
  nogil([&] {
    augment::table_scarf_corrupt<T>(c.x, c.ref, c.out, c.mask, c.n, c.w, c.nr, c.g.start, c.g.cols, c.g.count, k,
                                    seed);
  });
  return py::make_tuple(c.out.array(), c.mask.array());
}

template <class T>
py::tuple table_vime(const py::array& x_, const py::array& ref_, const py::array& start, const py::array& cols,
                     double p, std::uint64_t seed) {
  in_unit(p, "p");
  auto c = table_call<T>(x_, ref_, start, cols);
  nogil([&] {
    augment::table_vime_corrupt<T>(c.x, c.ref, c.out, c.mask, c.n, c.w, c.nr, c.g.start, c.g.cols, c.g.count, p,
                                   seed);
  });
  return py::make_tuple(c.out.array(), c.mask.array());
}

}  // namespace

void register_table_augment(py::module_& m) {
  m.def("table_scarf_corrupt", by_dtype(PYSSL_FLOATS(table_scarf), "x"), py::arg("x"), py::arg("reference"),
        py::arg("group_start"), py::arg("group_cols"), py::arg("k"), py::arg("seed"),
        "(x_corrupt (N, W), mask (N, C)): k table columns per row replaced from random reference rows.");
  m.def("table_vime_corrupt", by_dtype(PYSSL_FLOATS(table_vime), "x"), py::arg("x"), py::arg("reference"),
        py::arg("group_start"), py::arg("group_cols"), py::arg("p"), py::arg("seed"),
        "(x_corrupt (N, W), mask (N, C)): each table column replaced with probability p from a random "
        "reference row; mask 1 where the column changed.");
}

}  // namespace pyssl::bind
