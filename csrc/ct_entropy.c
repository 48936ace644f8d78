/*
 * ct_entropy.c - entropy stage of the compact codec mode (see ct_entropy.h).
 *
 * Model: values are split into adaptive bins [lower, lower + 2^w); the bin
 * index is rANS coded and the offset is written as w raw bits. Bins come
 * from a DP over the sorted distinct values (narrow where values are dense,
 * wide where sparse), as in pcodec. Optionally the bin is coded in one of up
 * to 8 contexts chosen by the magnitude class of the previous value's bin
 * (vessels keep their speed); bins, precision and contexts are chosen per
 * block by estimated cost, so small blocks get small tables.
 *
 * Decode: the block is cut into L equal segments (L = 4, 8, 16 or 32
 * lanes: 4 below 8192 values, then one per 1024 values up to 32 from
 * 32768), each coded by its own rANS state (32-bit, in [2^15, 2^31),
 * 16-bit renormalisation) with its own context chain. Round t decodes value
 * j*S + t of every lane j in lane order; the lanes that fall below 2^15
 * take the next 16-bit words in lane order, so a vector decoder (one lane
 * per 32-bit element) and the scalar one consume the words identically.
 * One 64-bit table entry per (context, slot) gives freq, slot - cum, the
 * bin, its offset width and the next context's table base: one load (or
 * gather element) per symbol. Renormalisation is branch-free. Decoding runs
 * in chunks of CHUNK_VALUES = 4096 values: pass 1 rANS-decodes a 32-bit
 * item (bin, width) per value into an L1-resident buffer, pass 2 adds the
 * raw offsets. With 4 lanes the offsets are round-major (the original
 * format, byte for byte); with more they are lane-major per chunk, so each
 * lane's offsets are one contiguous bit run that decodes into contiguous
 * output.
 * Kernels (ct_ent_impl, chosen once like ct_kernels; CHRONOTOPE_SIMD or
 * ct_ent_select override): "generic" is the portable scalar reference;
 * "avx2" runs 8 lanes per ymm (two 4-entry gathers, a 256-entry permute
 * table to hand the words to the lanes that need them) for 8/16/32 lanes;
 * "avx512" runs 16 per zmm (two 8-entry gathers, vpexpandd for the words)
 * for 16/32 lanes, transposes the items 16x16 in registers, and decodes
 * offsets 8 at a time (in-register prefix sum of the widths, the fields cut
 * out of a 9-qword window with vpermt2q and variable shifts, any width up
 * to 64, the bins' lower bounds gathered). Vector kernels run only while
 * their loads stay inside the buffer; the scalar code finishes the rest, so
 * status and output never depend on the kernel.
 * Encode: a key histogram over a window of <= 65536 keys around 0 plus a
 * sort of the few keys outside it (instead of sorting all n keys), the
 * window reused as a key -> bin map, and a division-free rANS step (32-bit
 * reciprocal, exact because states stay below 2^31). One encoder: the
 * bytes never depend on the CPU.
 *
 * Stream (bit fields LSB-first, n and the length stored by the caller):
 *   table bits: gamma(nbins); per bin: lower (first: u64code(zigzag), then
 *   u64code(lower[i] - lower[i-1] - 1)) and gamma(width + 1). If nbins > 1:
 *   if L > 4: 0 (4 bits, an escape: prec is never 0), lanes code (2 bits:
 *   L = 8 << code, code 3 invalid); then prec (4 bits, 1..12), nctx - 1
 *   (3), nctx - 1 class thresholds (8 each, increasing, 1..128), per
 *   context an exp-Golomb order k (4) and nbins frequencies (exp-Golomb
 *   order k, summing to 2^prec), then u64code(number of rANS words); zero
 *   pad to a byte. Then L 32-bit LE final states (each in [2^15, 2^31)),
 *   the 16-bit LE rANS words, the raw offset bits (S = n / L): for L = 4
 *   round-major (round t = 0..S-1, lane j = 0..3: value j*S + t); for L > 4
 *   per chunk of C = 4096 / L rounds (rounds t0..t0+R-1, R = min(C, S -
 *   t0)): lane j = 0..L-1, then rounds t0..t0+R-1: value j*S + t; then the
 *   n - L*S tail values (coded by state 0 after all rounds, context from
 *   value L*S - 1) in order; zero pad to a byte. If nbins == 1 the raw
 *   offsets follow the table bits in value order. gamma(v): L-1 zeros, a
 *   one, the low L-1 bits of v (L = bitlen v); u64code(v): gamma(bitlen(v)
 *   + 1), then the bits of v below its leading one. Every stream with L = 4
 *   (all n < 8192) is identical to the previous format, and every old
 *   stream decodes.
 *
 * Measured (AIS New York harbour week, 172,678 residuals per column; AMD
 * EPYC Zen 4 at 2.6 GHz, gcc -O3; medians of 31 runs of thread CPU time; a
 * second process shared the 2 CPUs, so wall-clock figures varied by up to
 * 2x and CPU-time ones by ~5%; bits/value whole column | 4096 blocks):
 *   t    5.503 | 5.542   (before: 5.499; order-0 entropy of exact values 5.68)
 *   lon  7.411 | 7.598   (7.407; 8.29; 7.39 given the previous magnitude class)
 *   lat  7.136 | 7.335   (7.132; 8.04; 7.13)
 *   (32 lanes cost +0.004 bit/value whole column; 4096 blocks unchanged.)
 *   decode whole column, M values/s: avx512 ~505-515, avx2 ~415, generic
 *   ~290-300 (before: ~300); 4096 blocks (4 lanes, scalar on every kernel):
 *   ~270-280 (before ~290-305: the 32-bit items and the new entry layout
 *   cost ~7% there, not yet recovered);
 *   encode ~60-80 M values/s whole column, ~35-48 in 4096 blocks (noisy;
 *   unchanged within the noise).
 * Where the avx512 time goes (whole column, ~5 cycles/value): ~2.5 the
 * rANS pass and transposes, ~2.5 the offsets. Zen 4 gathers deliver ~1
 * element per cycle (measured: 16 elements in 16-17 cycles, zmm or ymm),
 * so one gather element per value for the table and one for the bins'
 * lower bounds set a floor of ~2 cycles/value; 512-bit shuffles and
 * variable shifts run at ~1 per cycle, which is why the offset kernel
 * (30 vector instructions per 8 values) is not faster than ~1.75
 * cycles/value even without its gather.
 * Not done / ideas: per-lane bit positions accumulated in pass 1 (one add
 * per round) instead of the prefix sum (-7 instructions per 8 offsets);
 * vector kernels for 4 lanes (latency-bound with one vector; 8 lanes at
 * 4096 values would cost +0.03 bit/value).
 * Earlier revisions (4 states, scalar only): what paid: reciprocal encode
 * + histogram instead of sort + scratch cut from 18 to ~5 bytes/value
 * (whole-column encode 2x); caching the DP's count-dependent cost per
 * count and a division-free log2 (4096-block encode +25%); grouping the
 * context classes into <= 12 groups before the context DP (+10% 4096-block
 * encode, 0.007 bit). What did not: 8 scalar states (+5% whole-column
 * decode, +0.03 bit/value in 4096 blocks), fusing the offset read into
 * the rANS loop (register pressure), a cmov renormalisation (gcc emits a
 * branch: -35%), PREC_TOP 11/10 (+0.03/+0.07 bit on t, decode speed
 * unchanged), SPAN 16 or half the atoms (+0.02/+0.09 bit), 8 context
 * groups (+0.015 bit). Earlier design choices: the signed magnitude class
 * as context (-0.13 bit vs unsigned), up to 8 contexts (-0.12 bit vs 4),
 * prec = bitlen(n) - 4 clamped to [6, 12] (4096 values at prec 9 beat prec
 * 12 by 0.04 bit), arithmetic (not branchy) renormalisation.
 */
#include "ct_entropy.h"
#include "ct_kernels.h"
#include "ct_error.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LANES CT_ENT_MAX_LANES /* rANS states = segments: 4, 8, 16 or 32 (2-bit field) */
#define CHUNK_VALUES 4096   /* values per offset chunk (format constant): CHUNK_VALUES / L rounds */
#define HIST_MAX 65536      /* encoder key histogram window, max entries */
#define RANS_L (1u << 15)   /* state in [2^15, 2^31); renormalise by 16-bit words */
#define MAX_BINS 4096
#define MAX_CTX 8           /* 3-bit field */
#define NCLS 129            /* signed magnitude classes -64..64 */
#define PREC_ADJ (-4)       /* prec = bitlen(n) + PREC_ADJ, in [6, PREC_TOP] */
#define PREC_TOP 12
#define PREC_MAX 12         /* decode tables: nctx << prec entries of 8 bytes */
#define CTX_GROUPS 12       /* class groups the context DP chooses from */
#define SPAN 32             /* max atoms merged into one bin by the DP */
#define LOG2E 1.4426950408889634

/* ---------- small helpers ---------- */

static inline unsigned bitlen(uint64_t v) { return v ? 64u - (unsigned)__builtin_clzll(v) : 0u; }
static inline uint64_t lowmask(unsigned w) { return w >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << w) - 1; }
static inline int64_t u2i(uint64_t u) { int64_t v; memcpy(&v, &u, 8); return v; }

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE64(v) __builtin_bswap64(v)
#define LE32(v) __builtin_bswap32(v)
#define LE16(v) __builtin_bswap16(v)
#else
#define LE64(v) (v)
#define LE32(v) (v)
#define LE16(v) (v)
#endif

static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return LE64(v); }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return LE32(v); }
static inline uint32_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return LE16(v); }
static inline void st32(uint8_t *p, uint32_t v) { v = LE32(v); memcpy(p, &v, 4); }
static inline void st16(uint8_t *p, uint16_t v) { v = LE16(v); memcpy(p, &v, 2); }

/* log2 for cost estimates only, without libm or a division: exponent + a
 * degree-6 polynomial in the mantissa (abs. error < 6e-6 bit, plenty for
 * comparing costs; the division-based series it replaced cost 15-20% of
 * encoding a 4096-value block). */
static inline double flog2(double x)
{
    uint64_t b;
    memcpy(&b, &x, 8);
    const int e = (int)((b >> 52) & 0x7ff) - 1023;
    b = (b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &b, 8);
    const double t = m - 1;
    return e + 5.060327953e-06 +
           t * (1.442395588944 +
                t * (-0.716987567873 +
                     t * (0.453858205290 + t * (-0.272355827038 + t * (0.117906861150 + t * -0.024825984443)))));
}

/* Signed magnitude class of the bin's value closest to zero, biased to
 * 0..128: 64 +- bitlen(|v|). The sign matters: a vessel heading east keeps
 * heading east (measured: 0.3 bit/value less than the unsigned class).
 * Shared by encoder and decoder to map bins to contexts. */
static unsigned bin_class(int64_t lo, unsigned w)
{
    if (lo >= 0) return 64 + bitlen((uint64_t)lo);
    const uint64_t neg = 0 - (uint64_t)lo, m = lowmask(w);
    return m >= neg ? 64 : 64 - bitlen(neg - m);
}

/* Lanes (rANS states, segments) for n values: each costs 4 state bytes,
 * so at most one per 1024 values (<= 0.03 bit/value), 4 to 32. */
static unsigned lanes_for(size_t n)
{
    unsigned L = 4;
    while (L < MAX_LANES && (size_t)L * 2048 <= n) L *= 2;
    return L;
}

static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); }

/* ---------- bit writer (LSB first); callers size the buffer exactly ---------- */

typedef struct {
    uint8_t *p;
    uint64_t acc;
    unsigned n; /* < 32 between calls */
} bw_t;

static inline void bw_put(bw_t *w, uint64_t v, unsigned nb) /* nb <= 32, v < 2^nb */
{
    w->acc |= v << w->n;
    w->n += nb;
    if (w->n >= 32) {
        st32(w->p, (uint32_t)w->acc);
        w->p += 4;
        w->acc >>= 32;
        w->n -= 32;
    }
}
static inline void bw_put64(bw_t *w, uint64_t v, unsigned nb)
{
    if (nb > 32) {
        bw_put(w, v & 0xffffffffu, 32);
        bw_put(w, v >> 32, nb - 32);
    } else {
        bw_put(w, v, nb);
    }
}
static uint8_t *bw_end(bw_t *w) /* zero-pads to a byte */
{
    while (w->n > 0) {
        *w->p++ = (uint8_t)w->acc;
        w->acc >>= 8;
        w->n = w->n > 8 ? w->n - 8 : 0;
    }
    return w->p;
}
/* Elias gamma, 1 <= v < 2^32: L-1 zeros, a one, the low L-1 bits. */
static void bw_gamma(bw_t *w, uint64_t v)
{
    const unsigned L = bitlen(v);
    bw_put(w, (uint64_t)1 << (L - 1), L);
    bw_put(w, v & lowmask(L - 1), L - 1);
}
/* Any uint64: gamma(bitlen + 1), then the bits below the leading one. */
static void bw_u64(bw_t *w, uint64_t v)
{
    const unsigned L = bitlen(v);
    bw_gamma(w, L + 1);
    if (L > 1) bw_put64(w, v & lowmask(L - 1), L - 1);
}
static void bw_eg(bw_t *w, uint32_t v, unsigned k) /* exp-Golomb of order k */
{
    bw_gamma(w, (uint64_t)(v >> k) + 1);
    bw_put(w, v & lowmask(k), k);
}
static inline unsigned gamma_bits(uint64_t v) { return 2 * bitlen(v) - 1; }
static inline unsigned u64_bits(uint64_t v)
{
    const unsigned L = bitlen(v);
    return gamma_bits(L + 1) + (L > 1 ? L - 1 : 0);
}
static inline unsigned eg_bits(uint32_t v, unsigned k) { return gamma_bits((v >> k) + 1) + k; }

/* ---------- bit reader for the table section (bounds-checked) ---------- */

typedef struct {
    const uint8_t *p;
    size_t len;
    uint64_t pos; /* bits consumed */
    int err;      /* first error, sticky */
} br_t;

static inline void br_fail(br_t *b, int e) { if (!b->err) b->err = e; }

static uint64_t br_peek(const br_t *b)
{
    const uint64_t byte = b->pos >> 3;
    uint64_t v = 0;
    if (byte + 8 <= b->len) {
        v = ld64(b->p + byte);
    } else {
        for (uint64_t i = 0; byte + i < b->len; i++) v |= (uint64_t)b->p[byte + i] << (8 * i);
    }
    return v >> (b->pos & 7);
}
static uint64_t br_get(br_t *b, unsigned nb) /* nb <= 56 */
{
    const uint64_t v = br_peek(b) & lowmask(nb);
    b->pos += nb;
    if (b->pos > (uint64_t)b->len * 8) br_fail(b, CT_ERR_TRUNCATED);
    return v;
}
static uint64_t br_gamma(br_t *b) /* result in [1, 2^32) */
{
    const uint64_t pk = br_peek(b);
    if ((uint32_t)pk == 0) {
        br_fail(b, b->pos + 32 > (uint64_t)b->len * 8 ? CT_ERR_TRUNCATED : CT_ERR_CORRUPT);
        return 1;
    }
    const unsigned z = (unsigned)__builtin_ctzll(pk);
    b->pos += z + 1;
    return ((uint64_t)1 << z) | br_get(b, z);
}
static uint64_t br_u64(br_t *b)
{
    const uint64_t l1 = br_gamma(b);
    if (l1 > 65) {
        br_fail(b, CT_ERR_CORRUPT);
        return 0;
    }
    const unsigned L = (unsigned)l1 - 1;
    if (L == 0) return 0;
    const unsigned r = L - 1;
    uint64_t v = r > 32 ? br_get(b, 32) | (br_get(b, r - 32) << 32) : br_get(b, r);
    return ((uint64_t)1 << r) | v;
}

/* ---------- encoder ---------- */

/* LSD radix sort (8-bit digits) of the few keys outside the histogram
 * window; n >= 1. Returns the buffer holding the result. */
static uint64_t *radix_sort(uint64_t *a, uint64_t *b, size_t n, unsigned bits)
{
    size_t hist[256];
    for (unsigned sh = 0; sh < bits; sh += 8) {
        memset(hist, 0, sizeof hist);
        for (size_t i = 0; i < n; i++) hist[(a[i] >> sh) & 255]++;
        if (hist[(a[0] >> sh) & 255] == n) continue; /* digit constant: skip pass */
        size_t s = 0;
        for (size_t d = 0; d < 256; d++) {
            const size_t c = hist[d];
            hist[d] = s;
            s += c;
        }
        for (size_t i = 0; i < n; i++) b[hist[(a[i] >> sh) & 255]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    return a;
}

/* Encoder symbol: division-free rANS step by a 32-bit reciprocal
 * (Alverson; exact for x < 2^31, which RANS_L = 2^15 guarantees). */
typedef struct {
    uint32_t xmax; /* renormalise first if x >= xmax = freq << (31 - prec) */
    uint32_t rcp;
    uint32_t bias;
    uint16_t cmpl; /* M - freq */
    uint16_t shift;
} esym_t;

typedef struct {
    unsigned nbins, nctx, prec, lanes;
    unsigned thr[MAX_CTX - 1];
    uint64_t key[MAX_BINS]; /* lower bound relative to the block minimum */
    int64_t lower[MAX_BINS];
    uint8_t w[MAX_BINS];
    uint8_t cls[MAX_BINS];
    uint8_t cmap[MAX_BINS];                  /* context of the NEXT value */
    uint32_t *freq, *cum; /* [ctx * nbins + bin] */
    uint64_t *cnt;
    esym_t *esym;         /* [ctx * nbins + bin] */
} model_t;

/* Header of the single-bin stream (also the fallback), in bytes. */
static size_t single_hdr_bytes(int64_t lower, unsigned w)
{
    return (gamma_bits(1) + u64_bits(zigzag(lower)) + gamma_bits(w + 1) + 7) / 8;
}

static size_t write_single(uint8_t *dst, const int64_t *src, size_t n, int64_t lower, unsigned w)
{
    bw_t bw = {dst, 0, 0};
    bw_gamma(&bw, 1);
    bw_u64(&bw, zigzag(lower));
    bw_gamma(&bw, w + 1);
    bw_end(&bw);
    if (w > 0) {
        for (size_t i = 0; i < n; i++) bw_put64(&bw, (uint64_t)src[i] - (uint64_t)lower, w);
        bw_end(&bw);
    }
    return (size_t)(bw.p - dst);
}

/*
 * Choose bins over the m distinct keys uk[] (values minus the minimum,
 * increasing) with counts uc[] (total n): group them into at most ~2*amax
 * "atoms" (equal-count chunks, a heavy value stays alone), then a DP merges
 * runs of up to SPAN adjacent atoms into bins, minimising estimated bits:
 * entropy + offset bits + table bits + the penalty for rare bins that must
 * still get 1/M of the code space.
 */
static int choose_bins(model_t *md, const uint64_t *uk, const uint32_t *uc, size_t m, size_t n, int64_t mn)
{
    const uint32_t M = 1u << md->prec;
    size_t amax = n / 16;
    if (amax < 32) amax = 32;
    if (amax > M / 2 - 1) amax = M / 2 - 1;
    const size_t tc = m > amax ? (n + amax - 1) / amax : 0;

    const size_t acap = 2 * amax + 2;
    uint64_t *lo = malloc(acap * 3 * sizeof(uint64_t));
    double *best = malloc((acap + 1) * 2 * sizeof(double));
    uint32_t *from = malloc((acap + 1) * sizeof(uint32_t));
    if (!lo || !best || !from) {
        free(lo), free(best), free(from);
        return CT_ERR_NOMEM;
    }
    uint64_t *hi = lo + acap, *pc = hi + acap; /* pc: prefix counts */
    double *tbi = best + acap + 1;             /* table bits of a bin starting at atom i */
    size_t na = 0, cur = 0;
    pc[0] = 0;
    for (size_t u = 0; u < m; u++) {
        const size_t c = uc[u];
        if (tc == 0 || c >= tc) {
            if (cur) na++, cur = 0; /* close the open atom */
            lo[na] = hi[na] = uk[u];
            pc[na + 1] = pc[na] + c;
            na++;
        } else {
            if (!cur) lo[na] = uk[u], pc[na + 1] = pc[na];
            hi[na] = uk[u];
            pc[na + 1] += c;
            cur += c;
            if (cur >= tc) na++, cur = 0;
        }
    }
    if (cur) na++;
    for (size_t i = 0; i < na; i++) tbi[i] = (i ? u64_bits(lo[i] - lo[i - 1] - 1) : 0) + 2;

    const double N = (double)n, logN = flog2(N), minC = N / M, fscale = M / N;
    /* the count-dependent part of a bin's cost; cached per count when
     * there are fewer counts than DP steps (small blocks) */
#define CCOST(C, ce) ((C) * (logN - flog2(ce)) + ((ce) - (C)) * LOG2E + bitlen((uint64_t)((C) * fscale) + 1))
    double *cc = NULL;
    if (n < na * SPAN && (cc = malloc((n + 1) * sizeof(double))) != NULL)
        for (size_t C = 0; C <= n; C++) {
            const double Cd = (double)C, ce = Cd > minC ? Cd : minC;
            cc[C] = CCOST(Cd, ce);
        }
    best[0] = 0;
    for (size_t j = 1; j <= na; j++) {
        double bj = 1e300;
        uint32_t bi = 0;
        const size_t i0 = j > SPAN ? j - SPAN : 0;
        if (cc) {
            for (size_t i = j; i-- > i0;) {
                const uint64_t C = pc[j] - pc[i];
                const unsigned w = bitlen(hi[j - 1] - lo[i]);
                const double cost = best[i] + tbi[i] + (double)C * w + cc[C] + gamma_bits(w + 1);
                if (cost < bj) bj = cost, bi = (uint32_t)i;
            }
        } else {
            for (size_t i = j; i-- > i0;) {
                const double C = (double)(pc[j] - pc[i]);
                const unsigned w = bitlen(hi[j - 1] - lo[i]);
                const double ce = C > minC ? C : minC;
                const double cost = best[i] + tbi[i] + C * w + CCOST(C, ce) + gamma_bits(w + 1);
                if (cost < bj) bj = cost, bi = (uint32_t)i;
            }
        }
        best[j] = bj;
        from[j] = bi;
    }
    /* backtrack: bins in reverse, then flip */
    size_t nb = 0;
    for (size_t j = na; j > 0; j = from[j]) {
        const size_t i = from[j];
        md->key[nb] = lo[i];
        md->w[nb] = (uint8_t)bitlen(hi[j - 1] - lo[i]);
        nb++;
    }
    for (size_t a = 0, b = nb - 1; a < b; a++, b--) {
        uint64_t k = md->key[a];
        md->key[a] = md->key[b], md->key[b] = k;
        uint8_t t = md->w[a];
        md->w[a] = md->w[b], md->w[b] = t;
    }
    md->nbins = (unsigned)nb;
    for (size_t b = 0; b < nb; b++) {
        md->lower[b] = u2i((uint64_t)mn + md->key[b]);
        md->cls[b] = (uint8_t)bin_class(md->lower[b], md->w[b]);
    }
    free(lo), free(best), free(from), free(cc);
    return CT_OK;
#undef CCOST
}

/* Estimated bits of coding the histogram h[0..nb) (total T) in one context,
 * table included. */
static double ctx_cost(const uint64_t *h, unsigned nb, double T, uint32_t M)
{
    double s = 0, tbl = 4;
    const double minC = T / M, fs = M / T;
    for (unsigned b = 0; b < nb; b++) {
        const double c = (double)h[b];
        if (c == 0) {
            tbl += 1;
            continue;
        }
        s -= c * flog2(c);
        if (c < minC) s += (minC - c) * LOG2E;
        tbl += 3 + flog2(1 + c * fs);
    }
    return s + T * flog2(T) + tbl;
}

#define START_CLASS 255 /* pc[] marker: first value of a segment, context 0 */

/* pc[i] = class of the previous value's bin, or START_CLASS where the
 * decoder resets the context (segment starts). */
static void prev_classes(const model_t *md, const uint16_t *bin, size_t n, uint8_t *pc)
{
    const size_t L = md->lanes, S = n / L;
    pc[0] = START_CLASS;
    for (size_t i = 1; i < n; i++) pc[i] = md->cls[bin[i - 1]];
    if (S)
        for (size_t j = 1; j < L; j++) pc[j * S] = START_CLASS;
}

/*
 * Choose contexts: classes of the previous bin are partitioned into at most
 * MAX_CTX contiguous ranges by a DP on estimated cost, then exact per-context
 * counts are taken.
 */
static int choose_contexts(model_t *md, const uint16_t *bin, size_t n, uint8_t *pc)
{
    const unsigned nb = md->nbins;
    const uint32_t M = 1u << md->prec;
    uint64_t ccnt[NCLS] = {0};
    unsigned cidx[NCLS], cval[NCLS], kc = 0;
    uint64_t gcnt[NCLS];

    md->nctx = 1;
    if (n >= 512 && nb > 2) {
        prev_classes(md, bin, n, pc);
        for (size_t i = 0; i < n; i++) ccnt[pc[i] == START_CLASS ? 64 : pc[i]]++;
        /* group adjacent classes into at most ~CTX_GROUPS groups of similar
         * count (a heavy class stays alone): the DP below costs
         * groups^2 * nbins, and finer groups gained < 0.005 bit/value */
        const uint64_t tgt = n / CTX_GROUPS + 1;
        uint64_t gc = 0;
        for (unsigned c = 0; c < NCLS; c++) {
            if (!ccnt[c]) continue;
            if (kc && gc + ccnt[c] <= tgt && gc < tgt / 2 + 1) { /* join the open group */
                gc += ccnt[c];
                cidx[c] = kc - 1;
                continue;
            }
            cval[kc] = c, cidx[c] = kc++;
            gc = ccnt[c];
        }
        for (unsigned g = 0; g < kc; g++) gcnt[g] = 0;
        for (unsigned c = 0; c < NCLS; c++)
            if (ccnt[c]) gcnt[cidx[c]] += ccnt[c];
    }
    if (kc >= 2) {
        uint64_t *J = calloc((size_t)kc * nb + nb, sizeof(uint64_t));
        double *rc = malloc((size_t)kc * kc * sizeof(double));
        if (!J || !rc) {
            free(J), free(rc);
            return CT_ERR_NOMEM;
        }
        uint64_t *acc = J + (size_t)kc * nb;
        for (size_t i = 0; i < n; i++)
            J[(size_t)cidx[pc[i] == START_CLASS ? 64 : pc[i]] * nb + bin[i]]++;
        for (unsigned a = 0; a < kc; a++) {
            memset(acc, 0, nb * sizeof(uint64_t));
            double T = 0;
            for (unsigned b = a; b < kc; b++) {
                const uint64_t *row = J + (size_t)b * nb;
                for (unsigned s = 0; s < nb; s++) acc[s] += row[s];
                T += (double)gcnt[b];
                rc[a * kc + b] = ctx_cost(acc, nb, T, M);
            }
        }
        /* g[k][e]: best cost of classes 0..e in k+1 groups; st: start of last group */
        double g[MAX_CTX][NCLS];
        unsigned st[MAX_CTX][NCLS];
        for (unsigned e = 0; e < kc; e++) g[0][e] = rc[e], st[0][e] = 0;
        unsigned bestk = 0;
        double bestc = g[0][kc - 1];
        for (unsigned k = 1; k < MAX_CTX && k < kc; k++) {
            for (unsigned e = k; e < kc; e++) {
                g[k][e] = 1e300;
                for (unsigned s = k; s <= e; s++) {
                    const double c = g[k - 1][s - 1] + rc[s * kc + e];
                    if (c < g[k][e]) g[k][e] = c, st[k][e] = s;
                }
            }
            if (g[k][kc - 1] + 8.0 * k < bestc) bestc = g[k][kc - 1] + 8.0 * k, bestk = k;
        }
        md->nctx = bestk + 1;
        for (unsigned k = bestk, e = kc - 1; k > 0; k--) {
            const unsigned s = st[k][e];
            md->thr[k - 1] = cval[s];
            e = s - 1;
        }
        free(J), free(rc);
    }
    for (unsigned b = 0; b < nb; b++) {
        unsigned c = 0;
        while (c + 1 < md->nctx && md->cls[b] >= md->thr[c]) c++;
        md->cmap[b] = (uint8_t)c;
    }
    md->cnt = calloc((size_t)md->nctx * nb, sizeof(uint64_t));
    md->freq = malloc((size_t)md->nctx * nb * 2 * sizeof(uint32_t));
    if (!md->cnt || !md->freq) return CT_ERR_NOMEM; /* caller frees */
    md->cum = md->freq + (size_t)md->nctx * nb;
    if (md->nctx == 1) {
        for (size_t i = 0; i < n; i++) md->cnt[bin[i]]++;
    } else {
        uint8_t cc[256]; /* class -> context */
        for (unsigned c = 0; c < 256; c++) {
            unsigned k = 0;
            while (c != START_CLASS && k + 1 < md->nctx && c >= md->thr[k]) k++;
            cc[c] = (uint8_t)k;
        }
        for (size_t i = 0; i < n; i++) md->cnt[(size_t)cc[pc[i]] * nb + bin[i]]++;
    }
    return CT_OK;
}

/* Quantise counts to frequencies summing to M, every used bin >= 1. */
static void normalize(const uint64_t *cnt, unsigned nb, uint32_t M, uint32_t *f, uint32_t *cum)
{
    uint64_t T = 0;
    unsigned big = 0;
    for (unsigned b = 0; b < nb; b++) {
        T += cnt[b];
        if (cnt[b] > cnt[big]) big = b;
    }
    double scale = (double)M / (double)T;
    int64_t sum = 0;
    for (int it = 0; it < 3; it++) { /* rescale so the forced 1s do not overshoot */
        sum = 0;
        uint64_t ones = 0, rest = 0;
        for (unsigned b = 0; b < nb; b++) {
            if (!cnt[b]) {
                f[b] = 0;
                continue;
            }
            uint32_t v = (uint32_t)(cnt[b] * scale + 0.5);
            if (v < 1) v = 1, ones++;
            else rest += v;
            f[b] = v;
            sum += v;
        }
        if (sum == M || rest == 0 || M <= ones) break;
        scale *= (double)(M - ones) / (double)rest;
    }
    int64_t diff = (int64_t)M - sum;
    if (diff > 0 || (int64_t)f[big] + diff >= 1) {
        f[big] = (uint32_t)((int64_t)f[big] + diff);
    } else {
        while (diff < 0) /* terminates: nz <= M, so some f > 1 while sum > M */
            for (unsigned b = 0; b < nb && diff < 0; b++)
                if (f[b] > 1) f[b]--, diff++;
    }
    uint32_t c = 0;
    for (unsigned b = 0; b < nb; b++) cum[b] = c, c += f[b];
}


/* Table bits (byte-padded) into out; nw = number of rANS words. */
static size_t write_header(const model_t *md, uint64_t nw, uint8_t *out)
{
    bw_t bw = {out, 0, 0};
    const unsigned nb = md->nbins;
    bw_gamma(&bw, nb);
    for (unsigned b = 0; b < nb; b++) {
        if (b == 0) bw_u64(&bw, zigzag(md->lower[0]));
        else bw_u64(&bw, md->key[b] - md->key[b - 1] - 1);
        bw_gamma(&bw, md->w[b] + 1u);
    }
    if (md->lanes > 4) { /* escape (prec 0): lanes, then prec */
        bw_put(&bw, 0, 4);
        bw_put(&bw, (unsigned)__builtin_ctz(md->lanes) - 3, 2);
    }
    bw_put(&bw, md->prec, 4);
    bw_put(&bw, md->nctx - 1, 3);
    for (unsigned c = 0; c + 1 < md->nctx; c++) bw_put(&bw, md->thr[c], 8);
    for (unsigned c = 0; c < md->nctx; c++) {
        unsigned bk = 0, bbits = ~0u;
        for (unsigned k = 0; k <= md->prec; k++) {
            unsigned s = 0;
            for (unsigned b = 0; b < nb; b++) s += eg_bits(md->freq[c * nb + b], k);
            if (s < bbits) bbits = s, bk = k;
        }
        bw_put(&bw, bk, 4);
        for (unsigned b = 0; b < nb; b++) bw_eg(&bw, md->freq[c * nb + b], bk);
    }
    bw_u64(&bw, nw);
    return (size_t)(bw_end(&bw) - out);
}

static void build_esym(model_t *md)
{
    const unsigned prec = md->prec, nb = md->nbins;
    const uint32_t M = 1u << prec;
    for (size_t k = 0; k < (size_t)md->nctx * nb; k++) {
        const uint32_t f = md->freq[k], q = md->cum[k];
        esym_t *e = &md->esym[k];
        e->xmax = f << (31 - prec);
        e->cmpl = (uint16_t)(M - f);
        if (f < 2) { /* q = x - 1 for x >= 1: x' = x * M + cum */
            e->rcp = ~0u;
            e->shift = 0;
            e->bias = q + M - 1;
        } else {
            unsigned sh = 0;
            while (f > (1u << sh)) sh++;
            e->rcp = (uint32_t)((((uint64_t)1 << (sh + 31)) + f - 1) / f);
            e->shift = (uint16_t)(sh - 1);
            e->bias = q;
        }
    }
}

/* rANS-encode the bin sequence backwards (exact reverse of the decoder's
 * order: the tail, then rounds t = S-1..0, states NST-1..0); words end at
 * wend. Returns the number of 16-bit words; final states in xs[]. Branch-free
 * renormalisation: the word is always stored, the pointer moves only if
 * needed. */
static size_t ans_encode(const model_t *md, const uint16_t *bin, size_t n, uint16_t *wend, uint32_t *xs)
{
    const unsigned nb = md->nbins;
    const int L = (int)md->lanes;
    const size_t S = n / (size_t)L;
    const esym_t *es = md->esym;
    const uint8_t *cm = md->cmap;
    uint32_t x[MAX_LANES];
    uint16_t *wp = wend;
    for (int j = 0; j < L; j++) x[j] = RANS_L;
#define ENC(j, k)                                                                   \
    do {                                                                            \
        const esym_t *e_ = es + (k);                                                \
        uint32_t x_ = x[j];                                                         \
        const uint32_t r_ = x_ >= e_->xmax;                                         \
        wp[-1] = (uint16_t)x_;                                                      \
        wp -= r_;                                                                   \
        x_ >>= r_ << 4;                                                             \
        const uint32_t q_ = (uint32_t)(((uint64_t)x_ * e_->rcp) >> 32) >> e_->shift; \
        x[j] = x_ + e_->bias + q_ * e_->cmpl;                                       \
    } while (0)
    for (size_t i = n; i-- > S * (size_t)L;) ENC(0, (i ? (size_t)cm[bin[i - 1]] * nb : 0) + bin[i]);
    if (S) {
        for (size_t t = S; t-- > 1;)
            for (int j = L - 1; j >= 0; j--) {
                const size_t i = (size_t)j * S + t;
                ENC(j, (size_t)cm[bin[i - 1]] * nb + bin[i]);
            }
        for (int j = L - 1; j >= 0; j--) ENC(j, bin[(size_t)j * S]);
    }
#undef ENC
    for (int j = 0; j < L; j++) xs[j] = x[j];
    return (size_t)(wend - wp);
}

size_t ct_ent_bound(size_t n)
{
    if (n > (SIZE_MAX - 16) / 8) return SIZE_MAX;
    return 8 * n + 16;
}

int64_t ct_ent_encode(const int64_t *src, size_t n, uint8_t *dst, size_t cap)
{
    if (n == 0) {
        if (cap < 1 || !dst) return cap < 1 ? CT_ERR_DST_SMALL : CT_ERR_ARG;
        dst[0] = 0;
        return 1;
    }
    if (!src || !dst) return CT_ERR_ARG;
    if (n > SIZE_MAX / 32) return CT_ERR_TOO_LARGE;

    int64_t mn = src[0], mx = src[0];
    for (size_t i = 1; i < n; i++) {
        mn = src[i] < mn ? src[i] : mn;
        mx = src[i] > mx ? src[i] : mx;
    }
    const uint64_t range = (uint64_t)mx - (uint64_t)mn;
    const unsigned fw = bitlen(range);
    const size_t fsize = single_hdr_bytes(mn, fw) + (size_t)(((uint64_t)n * fw + 7) / 8);
    if (fw == 0 || n < 8) goto single;

    {
        /* Key histogram over a window of W keys around value 0 (residuals
         * are dense there); the few keys outside are sorted. This replaces
         * sorting all n keys. The window later becomes a key -> bin map. */
        size_t W = 1024;
        while (W < n && W < HIST_MAX) W <<= 1;
        if (range < W) W = (size_t)range + 1;
        const uint64_t k0 = mn >= 0 ? 0 : mx < 0 ? range : 0 - (uint64_t)mn; /* key of value 0, clamped */
        uint64_t wlo = k0 > W / 2 ? k0 - W / 2 : 0;
        if (wlo > range - (W - 1)) wlo = range - (W - 1);

        uint32_t *hist = calloc(W, sizeof(uint32_t));
        uint8_t *work = malloc(n * 5 + 2 * MAX_LANES + 16);
        model_t *md = calloc(1, sizeof(model_t));
        uint64_t *oa = NULL, *uk = NULL;
        uint8_t *hdr = NULL;
        int64_t rc = CT_ERR_NOMEM;
        if (!hist || !work || !md) goto out;
        uint16_t *bin = (uint16_t *)work;           /* n */
        uint16_t *wend = bin + n + (n + MAX_LANES + 4); /* rANS words: at most n */
        uint8_t *pcb = (uint8_t *)wend;             /* n bytes: previous classes */

        size_t nout = 0;
        for (size_t i = 0; i < n; i++) {
            const uint64_t k = (uint64_t)src[i] - (uint64_t)mn - wlo;
            if (k < W) hist[k]++;
            else nout++;
        }
        uint64_t *sorted = NULL;
        if (nout) {
            oa = malloc(2 * nout * sizeof(uint64_t));
            if (!oa) goto out;
            for (size_t i = 0, o = 0; i < n; i++) {
                const uint64_t k = (uint64_t)src[i] - (uint64_t)mn;
                if (k - wlo >= W) oa[o++] = k;
            }
            sorted = radix_sort(oa, oa + nout, nout, fw);
        }
        /* distinct keys and counts, increasing */
        const size_t mcap = nout + (W < n ? W : n);
        uk = malloc(mcap * (sizeof(uint64_t) + sizeof(uint32_t)));
        if (!uk) goto out;
        uint32_t *uc = (uint32_t *)(uk + mcap);
        size_t m = 0, o = 0;
        for (; o < nout && sorted[o] < wlo; o++) {
            if (m && uk[m - 1] == sorted[o]) uc[m - 1]++;
            else uk[m] = sorted[o], uc[m++] = 1;
        }
        for (size_t k = 0; k < W; k++)
            if (hist[k]) uk[m] = wlo + k, uc[m++] = hist[k];
        for (; o < nout; o++) {
            if (m && uk[m - 1] == sorted[o]) uc[m - 1]++;
            else uk[m] = sorted[o], uc[m++] = 1;
        }

        unsigned prec = bitlen(n) + PREC_ADJ;
        md->prec = prec < 6 ? 6 : prec > PREC_TOP ? PREC_TOP : prec;
        md->lanes = lanes_for(n);
        if ((rc = choose_bins(md, uk, uc, m, n, mn)) < 0) goto out;
        if (md->nbins == 1) {
            rc = 1; /* the single-bin stream is the fallback */
            goto out;
        }
        /* bin of each value: the window as a direct map, else a branch-free
         * binary search over the lower keys */
        const unsigned nb = md->nbins;
        uint16_t *map = (uint16_t *)hist;
        for (unsigned b = 0; b < nb; b++) { /* bin b owns keys [key[b], key[b+1]) */
            const uint64_t a = md->key[b] > wlo ? md->key[b] - wlo : 0;
            const uint64_t e = b + 1 < nb ? (md->key[b + 1] > wlo ? md->key[b + 1] - wlo : 0) : W;
            for (uint64_t k = a; k < e && k < W; k++) map[k] = (uint16_t)b;
        }
        uint64_t rawbits = 0;
        for (size_t i = 0; i < n; i++) {
            const uint64_t k = (uint64_t)src[i] - (uint64_t)mn;
            unsigned b;
            if (k - wlo < W) {
                b = map[k - wlo];
            } else {
                const uint64_t *base = md->key;
                size_t len = nb;
                while (len > 1) {
                    const size_t half = len / 2;
                    base = base[half] <= k ? base + half : base;
                    len -= half;
                }
                b = (unsigned)(base - md->key);
            }
            bin[i] = (uint16_t)b;
            rawbits += md->w[b];
        }
        if ((rc = choose_contexts(md, bin, n, pcb)) < 0) goto out;
        for (unsigned c = 0; c < md->nctx; c++)
            normalize(md->cnt + c * nb, nb, 1u << md->prec, md->freq + c * nb, md->cum + c * nb);
        md->esym = malloc((size_t)md->nctx * nb * sizeof(esym_t));
        hdr = malloc((size_t)nb * 40 + 64);
        if (!md->esym || !hdr) {
            rc = CT_ERR_NOMEM;
            goto out;
        }
        build_esym(md);
        uint32_t xs[MAX_LANES];
        const size_t L = md->lanes;
        const size_t nw = ans_encode(md, bin, n, wend, xs);
        const size_t hsize = write_header(md, nw, hdr);
        const size_t S = n / L;
        const size_t total = hsize + 4 * L + 2 * nw + (size_t)((rawbits + 7) / 8);
        if (total >= fsize) { /* rc 1 = "write the single-bin stream" */
            rc = 1;
            goto out;
        }
        if (total > cap) {
            rc = CT_ERR_DST_SMALL;
            goto out;
        }
        uint8_t *p = dst;
        memcpy(p, hdr, hsize);
        p += hsize;
        for (size_t j = 0; j < L; j++, p += 4) st32(p, xs[j]);
        for (const uint16_t *wp = wend - nw; wp < wend; wp++, p += 2) st16(p, *wp);
        /* raw offsets in decode order: 4 lanes round-major; more lanes per
         * chunk of CHUNK_VALUES / L rounds, lane by lane; then the tail */
        bw_t bw = {p, 0, 0};
        const size_t CR = L == 4 ? S : CHUNK_VALUES / L;
        for (size_t t0 = 0; L == 4 && t0 < S; t0++)
            for (size_t j = 0; j < L; j++) {
                const size_t i = j * S + t0;
                bw_put64(&bw, (uint64_t)src[i] - (uint64_t)md->lower[bin[i]], md->w[bin[i]]);
            }
        for (size_t t0 = 0; L > 4 && t0 < S; t0 += CR) {
            const size_t R = S - t0 < CR ? S - t0 : CR;
            for (size_t j = 0; j < L; j++)
                for (size_t i = j * S + t0; i < j * S + t0 + R; i++) {
                    const unsigned b = bin[i];
                    bw_put64(&bw, (uint64_t)src[i] - (uint64_t)md->lower[b], md->w[b]);
                }
        }
        for (size_t i = S * L; i < n; i++) {
            const unsigned b = bin[i];
            bw_put64(&bw, (uint64_t)src[i] - (uint64_t)md->lower[b], md->w[b]);
        }
        bw_end(&bw);
        rc = (int64_t)total;
    out:
        if (md) free(md->cnt), free(md->freq), free(md->esym);
        free(hist), free(work), free(md), free(hdr), free(oa), free(uk);
        if (rc != 1) return rc; /* 1 is never a real size here: it means "use single" */
    }
single:
    if (fsize > cap) return CT_ERR_DST_SMALL;
    return (int64_t)write_single(dst, src, n, mn, fw);
}

/* ---------- decoder ---------- */

/* Raw offset reader: bits LSB-first from p[0..len), pos bits consumed. */
typedef struct {
    const uint8_t *p;
    size_t len;
    uint64_t pos;
} rr_t;

/* One offset of w bits, bounds-checked (stream ends, tails). */
static inline int rr_slow(rr_t *r, unsigned w, uint64_t *out)
{
    if (r->pos + w > (uint64_t)r->len * 8) return CT_ERR_TRUNCATED;
    uint64_t v = 0;
    for (unsigned k = 0; k < w;) { /* bytewise */
        const uint64_t q = r->pos + k;
        const unsigned sh = (unsigned)(q & 7), take = 8 - sh < w - k ? 8 - sh : w - k;
        v |= (uint64_t)((r->p[q >> 3] >> sh) & ((1u << take) - 1)) << k;
        k += take;
    }
    r->pos += w;
    *out = v;
    return CT_OK;
}

/* Item of pass 1 (one per value): bits 13-44 of its table entry, i.e.
 * w | (s - cum) << 7 | bin << 19 (w = the bin's offset bits).
 * lowtab[2 * bin] = lower, lowtab[2 * bin + 1] = mask of w bits. */
#define ITEM_BIN(it) ((it) >> 19)
#define ITEM_W(it) ((it) & 0x7f)

/* Offsets of a lane run while a value's 16 bytes lie in bounds; returns
 * the number decoded. */
static size_t raw_generic(const uint8_t *p, size_t len, uint64_t *ppos, const uint32_t *items, size_t k, int64_t *out,
                          const uint64_t *lowtab)
{
    uint64_t pos = *ppos;
    size_t i = 0;
    while (i < k && (pos >> 3) + 16 <= len) {
        /* a value advances <= 8 bytes and reads <= 16 from its first byte */
        size_t lim = i + (size_t)((len - (pos >> 3) - 16) / 8) + 1;
        if (lim > k) lim = k;
        for (; i < lim; i++) {
            const uint32_t it = items[i];
            const unsigned w = ITEM_W(it), b = ITEM_BIN(it), sh = (unsigned)(pos & 7);
            const uint8_t *q = p + (pos >> 3);
            uint64_t v = ld64(q) >> sh; /* >= 57 valid bits */
            if (w > 56) v |= (ld64(q + 8) << 1) << (63 - sh); /* rare, predictable */
            out[i] = u2i(lowtab[2 * b] + (v & lowtab[2 * b + 1]));
            pos += w;
        }
    }
    *ppos = pos;
    return i;
}

/* All k offsets of a lane run: the ISA kernel, then the scalar loops. */
static int raw_run(const ct_ent_impl *im, rr_t *rd, const uint32_t *items, size_t k, int64_t *out,
                   const uint64_t *lowtab)
{
    size_t i = im->raw ? im->raw(rd->p, rd->len, &rd->pos, items, k, out, lowtab) : 0;
    i += raw_generic(rd->p, rd->len, &rd->pos, items + i, k - i, out + i, lowtab);
    for (; i < k; i++) {
        const unsigned b = ITEM_BIN(items[i]);
        uint64_t v;
        if (rr_slow(rd, ITEM_W(items[i]), &v) < 0) return CT_ERR_TRUNCATED;
        out[i] = u2i(lowtab[2 * b] + v);
    }
    return CT_OK;
}

/* Offsets of R rounds of 4 lanes (round-major items and bits): round r,
 * lane j is dst[j * S + r]. */
static int raw_rounds4(rr_t *rd, const uint32_t *items, size_t R, int64_t *dst, size_t S, const uint64_t *lowtab)
{
    uint64_t pos = rd->pos;
    const uint8_t *p = rd->p;
    const size_t len = rd->len;
    size_t r = 0;
    while (r < R) {
        const uint64_t byte = pos >> 3;
        /* a value takes <= 8 bytes and reads <= 16 from its first byte */
        const size_t safe = byte + 16 <= len ? (size_t)(((len - byte - 16) / 8 + 1) / 4) : 0;
        if (safe) {
            const size_t lim = R - r < safe ? R : r + safe;
            for (; r < lim; r++)
                for (size_t j = 0; j < 4; j++) {
                    const uint32_t it = items[4 * r + j];
                    const unsigned b = ITEM_BIN(it), w = ITEM_W(it), sh = (unsigned)(pos & 7);
                    const uint8_t *q = p + (pos >> 3);
                    uint64_t v = ld64(q) >> sh; /* >= 57 valid bits */
                    if (w > 56) v |= (ld64(q + 8) << 1) << (63 - sh); /* rare, predictable */
                    dst[j * S + r] = u2i(lowtab[2 * b] + (v & lowtab[2 * b + 1]));
                    pos += w;
                }
            continue;
        }
        rd->pos = pos;
        for (size_t j = 0; j < 4; j++) {
            const uint32_t it = items[4 * r + j];
            uint64_t v;
            if (rr_slow(rd, ITEM_W(it), &v) < 0) return CT_ERR_TRUNCATED;
            dst[j * S + r] = u2i(lowtab[2 * ITEM_BIN(it)] + v);
        }
        pos = rd->pos;
        r++;
    }
    rd->pos = pos;
    return CT_OK;
}

/* Decode table entry per context c and slot s (index c << prec | s), one
 * 64-bit load per symbol:
 *   bits  0-12  freq(bin)       bits 13-19  offset bits w of the bin
 *   bits 20-31  s - cum(bin)    bits 32-43  bin    bits 44-48  zero
 *   bits 49-63  next context's table base (context << prec)
 * (bits 13-44 are the pass-1 item). One step: x' = freq * (x >> prec) +
 * s - cum. Renormalisation is arithmetic, not a branch: the branch would be
 * taken ~50% of the time at random and mispredict. */
#define STEP_CORE(x, cb, o)                                               \
    const uint64_t e_ = tab[cb + (x & ((1u << prec) - 1))];               \
    x = ((uint32_t)e_ & 0x1fff) * (x >> prec) + ((uint32_t)e_ >> 20);     \
    cb = (uint32_t)(e_ >> 49);                                            \
    (o) = (uint32_t)(e_ >> 13);                                           \
    const uint32_t r_ = x < RANS_L
#define STEP(x, cb, o)                                                    \
    do {                                                                  \
        STEP_CORE(x, cb, o);                                              \
        x = (x << (r_ << 4)) | (ld16(p) & (0u - r_));                     \
        p += 2 * r_;                                                      \
    } while (0)
#define STEP_CHECKED(x, cb, o)                                            \
    do {                                                                  \
        STEP_CORE(x, cb, o);                                              \
        if (r_) {                                                         \
            if (end - p < 2) return CT_ERR_TRUNCATED;                     \
            x = (x << 16) | ld16(p);                                      \
            p += 2;                                                       \
        }                                                                 \
    } while (0)

/* R rounds of 4 lanes without bounds checks (caller checked); items
 * round-major (o[4 * r + j]). Always inlined so that prec becomes a
 * constant in the hot cases. */
static inline __attribute__((always_inline)) void ans_rounds4(ct_ent_lanes *st, uint32_t *o, size_t R,
                                                               const uint64_t *tab, const unsigned prec)
{
    uint32_t x0 = st->x[0], x1 = st->x[1], x2 = st->x[2], x3 = st->x[3];
    uint32_t c0 = st->c[0], c1 = st->c[1], c2 = st->c[2], c3 = st->c[3];
    const uint8_t *p = st->p;
    for (size_t r = 0; r < R; r++, o += 4) {
        STEP(x0, c0, o[0]);
        STEP(x1, c1, o[1]);
        STEP(x2, c2, o[2]);
        STEP(x3, c3, o[3]);
    }
    st->x[0] = x0, st->x[1] = x1, st->x[2] = x2, st->x[3] = x3;
    st->c[0] = c0, st->c[1] = c1, st->c[2] = c2, st->c[3] = c3;
    st->p = p;
}

/* R rounds of L lanes (a multiple of 4), lane j's items at o[j * stride + r]:
 * the portable path for L > 4. */
static void ans_rounds_n(ct_ent_lanes *st, uint32_t *o, size_t R, size_t stride, unsigned L, const uint64_t *tab,
                         const unsigned prec)
{
    const uint8_t *p = st->p;
    for (size_t r = 0; r < R; r++)
        for (unsigned j = 0; j < L; j += 4) {
            uint32_t x0 = st->x[j], x1 = st->x[j + 1], x2 = st->x[j + 2], x3 = st->x[j + 3];
            uint32_t c0 = st->c[j], c1 = st->c[j + 1], c2 = st->c[j + 2], c3 = st->c[j + 3];
            uint32_t *oj = o + j * stride + r;
            STEP(x0, c0, oj[0]);
            STEP(x1, c1, oj[stride]);
            STEP(x2, c2, oj[2 * stride]);
            STEP(x3, c3, oj[3 * stride]);
            st->x[j] = x0, st->x[j + 1] = x1, st->x[j + 2] = x2, st->x[j + 3] = x3;
            st->c[j] = c0, st->c[j + 1] = c1, st->c[j + 2] = c2, st->c[j + 3] = c3;
        }
    st->p = p;
}

/* Both passes, chunk by chunk (CHUNK_VALUES / L rounds: the items stay in
 * L1). p..end are the rANS words, rd the offset bits. A vector kernel
 * writes items round-major to A and transposes them to B; the scalar
 * rounds write B (lane-major: lane j's run at B + j * R) directly. */
static int decode_body(const ct_ent_impl *im, const uint8_t *p, const uint8_t *end, rr_t *rd, int64_t *dst, size_t n,
                       unsigned L, const uint64_t *tab, const uint64_t *lowtab, unsigned prec, uint32_t *A, uint32_t *B)
{
    ct_ent_lanes st;
    const size_t S = n / L, CR = CHUNK_VALUES / L; /* S >= 1: n >= L here */
    const int vec = im->ans && (im->lane_counts >> __builtin_ctz(L) & 1) && A;
    for (size_t j = 0; j < L; j++) {
        st.x[j] = ld32(p + 4 * j);
        st.c[j] = 0;
        if (st.x[j] < RANS_L || st.x[j] >= (uint32_t)RANS_L << 16) return CT_ERR_CORRUPT;
    }
    p += 4 * L;

    for (size_t t = 0; t < S;) {
        const size_t R = S - t < CR ? S - t : CR;
        for (size_t r = 0; r < R;) {
            st.p = p;
            if (vec) {
                r += im->ans(&st, A + r * L, R - r, L, tab, prec, end);
            } else {
                /* a round reads at most 2 * L bytes */
                const size_t safe = (size_t)(end - p) / (2 * L);
                const size_t cnt = R - r < safe ? R - r : safe;
                if (L == 4) {
                    switch (prec) {
                    case 12: ans_rounds4(&st, B + 4 * r, cnt, tab, 12); break;
                    case 11: ans_rounds4(&st, B + 4 * r, cnt, tab, 11); break;
                    case 10: ans_rounds4(&st, B + 4 * r, cnt, tab, 10); break;
                    case 9: ans_rounds4(&st, B + 4 * r, cnt, tab, 9); break;
                    default: ans_rounds4(&st, B + 4 * r, cnt, tab, prec); break;
                    }
                } else {
                    ans_rounds_n(&st, B + r, cnt, R, L, tab, prec);
                }
                r += cnt;
            }
            p = st.p;
            if (r < R) { /* one bounds-checked round */
                for (size_t j = 0; j < L; j++) {
                    uint32_t it;
                    STEP_CHECKED(st.x[j], st.c[j], it);
                    if (vec || L == 4) (vec ? A : B)[r * L + j] = it;
                    else B[j * R + r] = it;
                }
                r++;
            }
        }
        if (vec) im->transpose(A, B, R, L);
        if (L == 4) {
            const int rc = raw_rounds4(rd, B, R, dst + t, S, lowtab);
            if (rc < 0) return rc;
        } else {
            for (size_t j = 0; j < L; j++) {
                const int rc = raw_run(im, rd, B + j * R, R, dst + j * S + t, lowtab);
                if (rc < 0) return rc;
            }
        }
        t += R;
    }
    /* tail: state 0 continues; the first tail value's context comes from
     * the last value of the last segment */
    uint32_t cb = st.c[L - 1];
    for (size_t i = S * L; i < n; i++) {
        uint32_t it;
        STEP_CHECKED(st.x[0], cb, it);
        uint64_t v;
        if (rr_slow(rd, ITEM_W(it), &v) < 0) return CT_ERR_TRUNCATED;
        dst[i] = u2i(lowtab[2 * ITEM_BIN(it)] + v);
    }
    /* the encoder started every state at RANS_L: anything else is damage */
    for (size_t j = 0; j < L; j++)
        if (st.x[j] != RANS_L) return CT_ERR_CORRUPT;
    if (p != end) return CT_ERR_CORRUPT;
    return CT_OK;
}
#undef STEP
#undef STEP_CHECKED
#undef STEP_CORE

/* ---------- decoder selection (once; see ct_ent_select) ---------- */

static const ct_ent_impl ent_generic = {"generic", 0, NULL, NULL, NULL};
static const ct_ent_impl *ent_selected;


static const ct_ent_impl *ent_by_name(const char *name)
{
    if (!ct_cpu_supports(name)) return NULL;
#if defined(CT_HAVE_X86_KERNELS)
    if (!strcmp(name, "avx2")) return &ct_ent_impl_avx2;
    if (!strcmp(name, "avx512")) return &ct_ent_impl_avx512;
#endif
    return &ent_generic;
}

const char *const *ct_ent_available(void)
{
    static const char *const one[] = {"generic", NULL};
#if defined(CT_HAVE_X86_KERNELS)
    static const char *const two[] = {"generic", "avx2", NULL};
    static const char *const all[] = {"generic", "avx2", "avx512", NULL};
    if (ct_cpu_supports("avx2")) return ct_cpu_supports("avx512") ? all : two;
#endif
    return one;
}

int ct_ent_select(const char *name)
{
    const ct_ent_impl *im = NULL;
    if (!name || !strcmp(name, "auto")) {
        const char *const *names = ct_ent_available();
        for (size_t i = 0; names[i]; i++) im = ent_by_name(names[i]);
    } else {
        im = ent_by_name(name);
    }
    if (!im) return CT_ERR_UNSUPPORTED;
    __atomic_store_n(&ent_selected, im, __ATOMIC_RELEASE);
    return CT_OK;
}

static const ct_ent_impl *ent_get(void)
{
    const ct_ent_impl *im = __atomic_load_n(&ent_selected, __ATOMIC_ACQUIRE);
    if (im) return im;
    /* benign race: concurrent first calls store the same choice */
    const char *env = getenv("CHRONOTOPE_SIMD");
    if (!env || ct_ent_select(env) != CT_OK) ct_ent_select("auto");
    return __atomic_load_n(&ent_selected, __ATOMIC_ACQUIRE);
}

const char *ct_ent_impl_name(void) { return ent_get()->name; }

int ct_ent_decode(const uint8_t *src, size_t len, int64_t *dst, size_t n)
{
    if (n == 0) {
        if (len == 0) return CT_ERR_TRUNCATED;
        return (src && len == 1 && src[0] == 0) ? CT_OK : CT_ERR_CORRUPT;
    }
    if (!dst || (!src && len)) return CT_ERR_ARG;
    if (len == 0) return CT_ERR_TRUNCATED;

    br_t br = {src, len, 0, 0};
    const uint64_t nb = br_gamma(&br);
    if (br.err) return br.err;
    if (nb > MAX_BINS) return CT_ERR_CORRUPT;

    int rc = CT_OK;
    /* per bin: lower and offset mask (lowtab), offset bits, context */
    uint64_t *lowtab = malloc(nb * (2 * sizeof(uint64_t) + 2));
    uint64_t *tab = NULL;
    if (!lowtab) return CT_ERR_NOMEM;
    uint8_t *wb = (uint8_t *)(lowtab + 2 * nb), *cmap = wb + nb;

    /* bins: strictly increasing lower bounds */
    uint64_t prev = 0;
    for (uint64_t b = 0; b < nb && !br.err; b++) {
        uint64_t cur;
        if (b == 0) {
            const uint64_t z = br_u64(&br);
            cur = (z >> 1) ^ (0 - (z & 1));
        } else {
            const uint64_t gap = br_u64(&br);
            const uint64_t biased = prev ^ ((uint64_t)1 << 63); /* order-preserving */
            if (gap >= ~biased) {
                br_fail(&br, CT_ERR_CORRUPT);
                break;
            }
            cur = prev + gap + 1;
        }
        const uint64_t w1 = br_gamma(&br);
        if (w1 > 65) br_fail(&br, CT_ERR_CORRUPT);
        lowtab[2 * b] = prev = cur;
        wb[b] = (uint8_t)(w1 - 1);
        lowtab[2 * b + 1] = lowmask(wb[b]);
    }
    if (br.err) {
        rc = br.err;
        goto done;
    }

    if (nb == 1) {
        const uint64_t hb = (br.pos + 7) / 8;
        if ((br.pos & 7) && (src[br.pos >> 3] >> (br.pos & 7))) {
            rc = CT_ERR_CORRUPT;
            goto done;
        }
        rr_t rd = {src + hb, (size_t)(len - hb), 0};
        const unsigned w = wb[0];
        const uint64_t lo = lowtab[0], mask = lowtab[1];
        if ((uint64_t)n * w > (uint64_t)rd.len * 8 || n > ((uint64_t)1 << 58)) {
            rc = CT_ERR_TRUNCATED;
            goto done;
        }
        size_t i = 0;
        if (w <= 56)
            for (; i < n && (rd.pos >> 3) + 8 <= rd.len; i++, rd.pos += w)
                dst[i] = u2i(lo + ((ld64(rd.p + (rd.pos >> 3)) >> (rd.pos & 7)) & mask));
        for (; i < n; i++) {
            uint64_t v;
            if ((rc = rr_slow(&rd, w, &v)) < 0) goto done;
            dst[i] = u2i(lo + v);
        }
        if ((rd.pos + 7) / 8 != rd.len || ((rd.pos & 7) && (rd.p[rd.pos >> 3] >> (rd.pos & 7))))
            rc = CT_ERR_CORRUPT;
        goto done;
    }

    unsigned prec = (unsigned)br_get(&br, 4), L = 4;
    if (prec == 0) { /* escape: more than 4 lanes */
        const unsigned lc = (unsigned)br_get(&br, 2);
        if (lc == 3) br_fail(&br, CT_ERR_CORRUPT);
        L = 8u << lc;
        prec = (unsigned)br_get(&br, 4);
    }
    const unsigned nctx = (unsigned)br_get(&br, 3) + 1;
    unsigned thr[7];
    for (unsigned c = 0; c + 1 < nctx; c++) {
        thr[c] = (unsigned)br_get(&br, 8);
        if (thr[c] < 1 || thr[c] >= NCLS || (c && thr[c] <= thr[c - 1])) br_fail(&br, CT_ERR_CORRUPT);
    }
    if (br.err) {
        rc = br.err;
        goto done;
    }
    /* the encoder always has n >= L values here */
    if (prec < 1 || prec > PREC_MAX || nb > (1u << prec) || n < L) {
        rc = CT_ERR_CORRUPT;
        goto done;
    }
    const uint32_t M = 1u << prec;
    for (uint64_t b = 0; b < nb; b++) {
        const unsigned cl = bin_class(u2i(lowtab[2 * b]), wb[b]);
        unsigned c = 0;
        while (c + 1 < nctx && cl >= thr[c]) c++;
        cmap[b] = (uint8_t)c;
    }
    /* table + padding for the vector fills' overshoot, then the item
     * buffers of decode_body (A only for a vector kernel) */
    const ct_ent_impl *im = ent_get();
    const size_t ntab = ((size_t)nctx << prec) + 4, nit = n < CHUNK_VALUES ? n : CHUNK_VALUES;
    const int vec = im->ans && (im->lane_counts >> __builtin_ctz(L) & 1);
    tab = malloc(ntab * sizeof(uint64_t) + (vec ? 2 : 1) * nit * sizeof(uint32_t));
    if (!tab) {
        rc = CT_ERR_NOMEM;
        goto done;
    }
    for (unsigned c = 0; c < nctx && !br.err; c++) {
        const unsigned k = (unsigned)br_get(&br, 4);
        if (k > prec) br_fail(&br, CT_ERR_CORRUPT);
        uint32_t cum = 0;
        uint64_t *tc = tab + ((size_t)c << prec);
        for (uint64_t b = 0; b < nb && !br.err; b++) {
            const uint64_t u = br_gamma(&br) - 1;
            if (u > (M >> k)) {
                br_fail(&br, CT_ERR_CORRUPT);
                break;
            }
            const uint64_t f = (u << k) | br_get(&br, k);
            if (f > M - cum) {
                br_fail(&br, CT_ERR_CORRUPT);
                break;
            }
            /* 4 entries per round; overshoot lands in slots filled later or
             * in the padding (table building is a large share of decoding
             * a 4096-value block) */
            const uint64_t e = f | (uint64_t)wb[b] << 13 | b << 32 | (uint64_t)((uint32_t)cmap[b] << prec) << 49;
            uint64_t *t = tc + cum;
            for (uint32_t s = 0; s < f; s += 4) {
                const uint64_t q[4] = {e | (uint64_t)s << 20, e | (uint64_t)(s + 1) << 20,
                                       e | (uint64_t)(s + 2) << 20, e | (uint64_t)(s + 3) << 20};
                memcpy(t + s, q, sizeof q);
            }
            cum += (uint32_t)f;
        }
        if (!br.err && cum != M) br_fail(&br, CT_ERR_CORRUPT);
    }
    const uint64_t nw = br_u64(&br);
    if (br.err) {
        rc = br.err;
        goto done;
    }
    const uint64_t hb = (br.pos + 7) / 8;
    if ((br.pos & 7) && (src[br.pos >> 3] >> (br.pos & 7))) {
        rc = CT_ERR_CORRUPT;
        goto done;
    }
    if (len - hb < 4 * L || nw > (len - hb - 4 * L) / 2) {
        rc = CT_ERR_TRUNCATED;
        goto done;
    }
    const uint8_t *ws = src + hb, *we = ws + 4 * L + 2 * nw;
    rr_t rd = {we, (size_t)(src + len - we), 0};
    uint32_t *B = (uint32_t *)(tab + ntab), *A = vec ? B + nit : NULL;
    if ((rc = decode_body(im, ws, we, &rd, dst, n, L, tab, lowtab, prec, A, B)) < 0) goto done;
    if ((rd.pos + 7) / 8 != rd.len || ((rd.pos & 7) && (rd.p[rd.pos >> 3] >> (rd.pos & 7)))) rc = CT_ERR_CORRUPT;
done:
    free(lowtab);
    free(tab);
    return rc;
}
