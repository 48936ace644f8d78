/* Kernels for the avx512 target; the flags come from CMakeLists.txt for this file only. */
#define CT_KERNEL_SUFFIX avx512
#define CT_KERNEL_NAME "avx512"
#define CT_VW 8
#include "ct_kernels_impl.h"
