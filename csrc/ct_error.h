/*
 * ct_error.h - the one error enum of chronotope's C core.
 *
 * Every function that can fail returns a ct_status (0 on success, a negative
 * code otherwise) or a signed size that is negative on failure. The Cython
 * layer maps these codes to chronotope.errors exceptions in one place.
 * The library never prints.
 */
#ifndef CT_ERROR_H
#define CT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ct_status {
    CT_OK = 0,
    CT_ERR_NOMEM = -1,       /* an allocation failed */
    CT_ERR_ARG = -2,         /* invalid argument: a caller bug, not bad data */
    CT_ERR_DST_SMALL = -3,   /* the output buffer is too small */
    CT_ERR_TRUNCATED = -4,   /* input ends before the data it announces */
    CT_ERR_MAGIC = -5,       /* not a chronotope block */
    CT_ERR_VERSION = -6,     /* format version this build cannot read */
    CT_ERR_CHECKSUM = -7,    /* checksum mismatch */
    CT_ERR_CORRUPT = -8,     /* structurally invalid content */
    CT_ERR_UNSUPPORTED = -9, /* unknown codec, dtype or parameter */
    CT_ERR_BLOSC = -10,      /* c-blosc2 reported an error */
    CT_ERR_TOO_LARGE = -11,  /* input larger than the format can describe */
    CT_ERR_TRAILING = -12,   /* bytes left over after the data's end */
} ct_status;

#define CT_ERR_MIN_CODE CT_ERR_TRAILING

/** Static, human-readable description of a status code (never NULL). */
const char *ct_strerror(int code);

/* Propagate a negative status from an expression. */
#define CT_TRY(expr)                      \
    do {                                  \
        int ct_try_rc_ = (int)(expr);     \
        if (ct_try_rc_ < 0) return ct_try_rc_; \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* CT_ERROR_H */
