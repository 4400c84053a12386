#ifndef MEKONG_CLIBPQ_SHIM_H
#define MEKONG_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
