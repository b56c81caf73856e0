// glibc's malloc tuning (mallopt), which the Glibc module does not export.
#ifndef OSSFTP_CMALLOC_SHIM_H
#define OSSFTP_CMALLOC_SHIM_H
#include <malloc.h>
#endif
