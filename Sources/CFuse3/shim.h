// libfuse3's high-level API. FUSE_USE_VERSION must precede the include.
#ifndef OSSFTP_CFUSE3_SHIM_H
#define OSSFTP_CFUSE3_SHIM_H
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <errno.h>
#endif
