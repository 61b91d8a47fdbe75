// Bindings for the mixed-type table corruptions (csrc/augment/table.hpp): convert, check shapes,
// allocate outputs, release the GIL, call the kernel. pyssl/pretext/table.py validates first with
// clear messages. No math here.
#include "augment/common.hpp"
#include "augment/table.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

using i64 = std::int64_t;
using augment::u64;

const i64* int64_in(const py::array& a, const char* name) {
  if (!has_dtype<i64>(a)) throw py::type_error(std::string(name) + " must have dtype int64, got " + describe(a));
  check_ndim(a, 1, name);
  check_contiguous(a, name);
  return static_cast<const i64*>(a.data());
}

struct Groups {
  const i64* start;
  const i64* cols;
  index_t count;
};

Groups groups_of(const py::array& start, const py::array& cols) {
  Groups g{int64_in(start, "group_start"), int64_in(cols, "group_cols"), index_t(start.size()) - 1};
  if (g.count < 1) fail("group_start must have at least 2 entries, got ", describe(start));
  if (index_t(cols.size()) < g.start[g.count])
    fail("group_cols has ", cols.size(), " entries but group_start ends at ", g.start[g.count]);
  return g;
}

template <class F>
py::tuple run_table(const py::array& x, const py::array& ref, const py::array& start, const py::array& cols, F&& kernel) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    const T* pr = in<T>(ref, "reference", 2);
    const index_t n = dim(x, 0), w = dim(x, 1), nr = dim(ref, 0);
    if (n < 1 || w < 1) fail("x must be a non-empty (N, W) batch, got ", describe(x));
    if (u64(n) >= augment::kMaxSamples) fail("x has too many rows: ", describe(x));
    if (dim(ref, 1) != w) fail("reference must have x's width ", w, ", got ", describe(ref));
    const Groups g = groups_of(start, cols);
    auto out = empty<T>({n, w});
    auto mask = empty<T>({n, g.count});
    T *po = out.mutable_data(), *pm = mask.mutable_data();
    {
      py::gil_scoped_release nogil;
      kernel(px, pr, po, pm, n, w, nr, g, T{});
    }
    return py::make_tuple(std::move(out), std::move(mask));
  });
}

py::tuple table_scarf(const py::array& x, const py::array& ref, const py::array& start, const py::array& cols,
                      index_t k, std::uint64_t seed) {
  return run_table(x, ref, start, cols, [&](auto px, auto pr, auto po, auto pm, index_t n, index_t w, index_t nr,
                                            const Groups& g, auto tag) {
    using T = decltype(tag);
    augment::table_scarf_corrupt<T>(px, pr, po, pm, n, w, nr, g.start, g.cols, g.count, k, seed);
  });
}

py::tuple table_vime(const py::array& x, const py::array& ref, const py::array& start, const py::array& cols,
                     double p, std::uint64_t seed) {
  return run_table(x, ref, start, cols, [&](auto px, auto pr, auto po, auto pm, index_t n, index_t w, index_t nr,
                                            const Groups& g, auto tag) {
    using T = decltype(tag);
    augment::table_vime_corrupt<T>(px, pr, po, pm, n, w, nr, g.start, g.cols, g.count, p, seed);
  });
}

}  // namespace

void register_table_augment(py::module_& m) {
  m.def("table_scarf_corrupt", &table_scarf, py::arg("x"), py::arg("reference"), py::arg("group_start"),
        py::arg("group_cols"), py::arg("k"), py::arg("seed"),
        "(x_corrupt (N, W), mask (N, C)): k table columns per row replaced from random reference rows.");
  m.def("table_vime_corrupt", &table_vime, py::arg("x"), py::arg("reference"), py::arg("group_start"),
        py::arg("group_cols"), py::arg("p"), py::arg("seed"),
        "(x_corrupt (N, W), mask (N, C)): each table column replaced with probability p from a random "
        "reference row; mask 1 where the column changed.");
}

}  // namespace pyssl::bind
