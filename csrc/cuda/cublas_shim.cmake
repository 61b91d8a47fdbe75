# pyssl loads cuBLAS at run time (dlopen in csrc/cuda/runtime.cu), so nothing links against it.
# Until CMakeLists.txt stops naming CUDA::cublas, include this file through
#   -C cmake.define.CMAKE_PROJECT_INCLUDE=<repo>/csrc/cuda/cublas_shim.cmake
# It defines an empty CUDA::cublas before FindCUDAToolkit runs, so the build works where the
# toolkit has no cuBLAS (this build machine) and never adds a libcublas NEEDED entry elsewhere.
if(NOT TARGET CUDA::cublas)
  add_library(CUDA::cublas INTERFACE IMPORTED)
endif()
