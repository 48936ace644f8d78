/* Kernels for the avx2 target; the flags come from CMakeLists.txt for this file only. */
#define CT_KERNEL_SUFFIX avx2
#define CT_KERNEL_NAME "avx2"
#include "ct_kernels_impl.h"
