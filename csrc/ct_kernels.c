/* ct_kernels.c - choose the kernel table once, from the CPU (or CHRONOTOPE_SIMD). */
#include "ct_kernels.h"

#include <stdlib.h>
#include <string.h>

#include "ct_entropy.h"
#include "ct_error.h"

static const ct_kernels *selected;

int ct_cpu_supports(const char *name)
{
#if defined(CT_HAVE_X86_KERNELS)
    __builtin_cpu_init();
    if (!strcmp(name, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
    if (!strcmp(name, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("bmi2");
#endif
    return !strcmp(name, "generic");
}

static const ct_kernels *by_name(const char *name)
{
    if (!ct_cpu_supports(name)) return NULL;
    if (!strcmp(name, "generic")) return &ct_kernels_generic;
#if defined(CT_HAVE_X86_KERNELS)
    if (!strcmp(name, "avx2")) return &ct_kernels_avx2;
    if (!strcmp(name, "avx512")) return &ct_kernels_avx512;
#endif
    return NULL;
}

static const ct_kernels *best(void)
{
    const char *const *names = ct_kernels_available();
    const ct_kernels *k = &ct_kernels_generic;
    for (size_t i = 0; names[i]; i++) k = by_name(names[i]);
    return k;
}

const char *const *ct_kernels_available(void)
{
    static const char *names[4];
    size_t n = 0;
    names[n++] = "generic";
#if defined(CT_HAVE_X86_KERNELS)
    if (ct_cpu_supports("avx2")) names[n++] = "avx2";
    if (ct_cpu_supports("avx512")) names[n++] = "avx512";
#endif
    names[n] = NULL;
    return names;
}

int ct_kernels_select(const char *name)
{
    const ct_kernels *k = (!name || !strcmp(name, "auto")) ? best() : by_name(name);
    if (!k) return CT_ERR_UNSUPPORTED;
    /* one switch for the whole library: the entropy decoder follows the same ISA */
    CT_TRY(ct_ent_select(k->name));
    __atomic_store_n(&selected, k, __ATOMIC_RELEASE);
    return CT_OK;
}

const ct_kernels *ct_kernels_get(void)
{
    const ct_kernels *k = __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
    if (k) return k;
    /* Benign race: concurrent first calls all store the same choice. */
    const char *env = getenv("CHRONOTOPE_SIMD");
    if (!env || ct_kernels_select(env) != CT_OK) ct_kernels_select("auto");
    return __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
}
