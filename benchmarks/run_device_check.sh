#!/usr/bin/env bash
# Device check for the CUDA backend (issue 7): build pyssl with CUDA (sm_90) on the GPU machine,
# run the CUDA parity tests, then time the SimCLR step against PyTorch CUDA eager.
# Writes env.txt, build.log, pytest.log, pytest.xml, bench.log and bench_cuda_simclr.json
# into $OUT (default build/device_out). Designed to finish well inside 10 minutes.
#
# The GPU machine has no network, so missing wheels travel with the tree (its image already has
# torch, numpy, pytest, hypothesis, pybind11, scikit-build-core, cmake and ninja; it lacks
# scipy-openblas32):
#   1. here, once (needs the package index):  bash benchmarks/run_device_check.sh --fetch-wheels
#   2. on the device (device tool):           run(command="bash benchmarks/run_device_check.sh",
#                                                 carry=["build/device_wheels"], timeout_s=600)
# Environment: PYTHON (interpreter that has torch, default python3), OUT.
# Nothing is installed into that interpreter: missing packages go to /tmp/pyssl-deps and pyssl
# itself to /tmp/pyssl-site (pip --target), both put on PYTHONPATH.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHEELS=$ROOT/build/device_wheels
OPENBLAS="scipy-openblas32==0.3.34.481.3"
PY=${PYTHON:-python3}

if [ "${1:-}" = "--fetch-wheels" ]; then
  mkdir -p "$WHEELS"
  "$PY" -m pip download -q --only-binary=:all: --no-deps -d "$WHEELS" \
    scikit-build-core==1.1.2 pybind11==3.1.0 "$OPENBLAS" pathspec packaging \
    pytest iniconfig pluggy pygments sortedcontainers exceptiongroup tomli typing_extensions
  for v in 3.10 3.11 3.12 3.13; do  # hypothesis is platform-specific on some indexes
    "$PY" -m pip download -q --only-binary=:all: --no-deps --python-version "$v" \
      --platform manylinux2014_x86_64 -d "$WHEELS" hypothesis tomli 2>/dev/null || true
  done
  du -sh "$WHEELS"
  exit 0
fi

OUT=${OUT:-$ROOT/build/device_out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/run.log") 2>&1
T0=$(date +%s)
step() { echo; echo "=== $1 (t=$(( $(date +%s) - T0 )) s)"; }

step "environment"
{
  nvidia-smi || true
  nvcc --version || true
  cmake --version || true
  ninja --version || true
  "$PY" --version
  "$PY" -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'numpy', numpy.__version__)"
  nproc
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

step "dependencies"
DEPS=/tmp/pyssl-deps
SITE=/tmp/pyssl-site
rm -rf "$DEPS" "$SITE"
if [ -d "$WHEELS" ]; then
  SRC=(--no-index --find-links "$WHEELS")
else
  echo "no $WHEELS: trying the package index (run --fetch-wheels beforehand when offline)"
  SRC=()
fi
need=()
for pair in scikit_build_core:scikit-build-core pybind11:pybind11 "scipy_openblas32:$OPENBLAS" numpy:numpy \
            pytest:pytest hypothesis:hypothesis; do
  "$PY" -c "import ${pair%%:*}" 2>/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing into $DEPS: ${need[*]}"
  "$PY" -m pip install -q --disable-pip-version-check "${SRC[@]}" --target "$DEPS" "${need[@]}" \
    || echo "some installs failed"
fi
export PYTHONPATH=$DEPS${PYTHONPATH:+:$PYTHONPATH}

step "build with CUDA (sm_90)"
export PYSSL_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
# cublas_shim.cmake: cuBLAS is dlopen'ed at run time, so nothing may link CUDA::cublas (harmless
# once CMakeLists.txt stops naming it).
timeout 420 "$PY" -m pip install --disable-pip-version-check --no-build-isolation --no-deps -v \
  --target "$SITE" . \
  -C build-dir=build/device \
  -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90 \
  -C "cmake.define.CMAKE_PROJECT_INCLUDE=$ROOT/csrc/cuda/cublas_shim.cmake" > "$OUT/build.log" 2>&1
rc=$?
grep -E "pyssl: (CUDA backend|BLAS)" "$OUT/build.log" || true
if [ $rc -ne 0 ]; then
  echo "build failed (rc=$rc)"
  tail -60 "$OUT/build.log"
  exit 1
fi
export PYTHONPATH=$SITE:$PYTHONPATH
# -P: the source tree's pyssl/ (no _core there) must not shadow the built package.
"$PY" -P -c '
import pyssl, pyssl.cuda as c
print("pyssl from", pyssl.__file__)
print("compiled", c.compiled, "available", c.is_available(), "devices", c.device_count(), c.unavailable_reason())
if c.is_available():
    print("device", c._cu.device_name(0))
    print("cuBLAS", c.load_cublas())
'

step "CUDA parity tests"
CONF=()
"$PY" -c "import hypothesis" 2>/dev/null || { echo "hypothesis missing: --noconftest"; CONF=(--noconftest); }
timeout 240 "$PY" -P -m pytest -q -rs -p no:cacheprovider "${CONF[@]}" tests/test_cuda_runtime.py \
  tests/test_cuda_parity.py --junitxml="$OUT/pytest.xml" > "$OUT/pytest.log" 2>&1
echo "pytest rc=$?"
tail -60 "$OUT/pytest.log"

step "SimCLR step benchmark"
timeout 240 "$PY" benchmarks/bench_cuda_simclr.py --json "$OUT/bench_cuda_simclr.json" > "$OUT/bench.log" 2>&1
echo "bench rc=$?"
cat "$OUT/bench.log"

step "done"
