/* Kernels for the generic target; the flags come from CMakeLists.txt for this file only. */
#define CT_KERNEL_SUFFIX generic
#define CT_KERNEL_NAME "generic"
#define CT_KERNEL_SCALAR_SCAN
#include "ct_kernels_impl.h"
