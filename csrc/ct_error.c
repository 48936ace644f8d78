#include "ct_error.h"

const char *ct_strerror(int code)
{
    switch ((ct_status)code) {
    case CT_OK: return "success";
    case CT_ERR_NOMEM: return "out of memory";
    case CT_ERR_ARG: return "invalid argument";
    case CT_ERR_DST_SMALL: return "output buffer too small";
    case CT_ERR_TRUNCATED: return "data is truncated";
    case CT_ERR_MAGIC: return "bad magic number: not a chronotope block";
    case CT_ERR_VERSION: return "unsupported format version";
    case CT_ERR_CHECKSUM: return "checksum mismatch";
    case CT_ERR_CORRUPT: return "corrupt data";
    case CT_ERR_UNSUPPORTED: return "unsupported codec, dtype or parameter";
    case CT_ERR_BLOSC: return "blosc2 error";
    case CT_ERR_TOO_LARGE: return "input too large for the format";
    case CT_ERR_TRAILING: return "trailing bytes after the end of the data";
    }
    return "unknown error code";
}
