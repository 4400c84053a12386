#ifndef MEKONG_CLZ4_SHIM_H
#define MEKONG_CLZ4_SHIM_H
// The LZ4 block format (lz4.h), used for survey microdata chunks.
#include <lz4.h>
#endif
