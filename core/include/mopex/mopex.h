/* mopex.h - libmopex, the mopexlua engine: everything in one include.
 *
 * A plain C11 library (no Lua) over cfitsio, wcslib and GSL. Every public
 * symbol is prefixed mx_; functions return an int status (mx_error.h).
 */
#ifndef MOPEX_H
#define MOPEX_H

#include "mx_error.h"
#include "mx_header.h"
#include "mx_image.h"
#include "mx_wcs.h"
#include "mx_table.h"
#include "mx_list.h"
#include "mx_stats.h"
#include "mx_parallel.h"
#include "mx_simulate.h"
#include "mx_medfilter.h"
#include "mx_segment.h"
#include "mx_geom.h"
#include "mx_pixmap.h"
#include "mx_resample.h"
#include "mx_sky.h"
#include "mx_fif.h"
#include "mx_snest.h"
#include "mx_framemods.h"
#include "mx_stack.h"
#include "mx_coadd.h"
#include "mx_interp.h"
#include "mx_outlier.h"
#include "mx_bgmatch.h"
#include "mx_aperture.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Library version string, e.g. "0.1.0". */
const char *mx_version(void);

#ifdef __cplusplus
}
#endif
#endif
