/* framemods_priv.h - what the per-frame module drivers (mod_*.c) share:
 * output names, the result, mask reading with size checks, the frame loop. */
#ifndef MX_FRAMEMODS_PRIV_H
#define MX_FRAMEMODS_PRIV_H

#include <stdint.h>
#include "mopex/mopex.h"

/* Wall-clock seconds (monotonic). */
double fm_now(void);

/* The <b> of every input: base name minus `strip` (may be NULL) when it
 * ends with it, "<i>_<b>" for base names that several inputs share.
 * *names: n malloc'ed strings; free with fm_free_names. */
int fm_names(int n, const char *const *paths, const char *strip, char ***names);
void fm_free_names(int n, char **names);

/* A result of n empty frames. */
int fm_result_new(int n, mx_fm_result **out);

/* Check the inputs of a call: n >= 1, images given, out_dir given.
 * `module` names the module in messages. */
int fm_check_inputs(const mx_fm_inputs *in, const char *out_dir, const char *module);

/* Read an integer mask that must be nx x ny: MX_ERR_MISMATCH names
 * `role`, the mask, the image and both sizes. */
int fm_read_mask_sized(const char *path, const char *role, const char *image, long nx, long ny,
                       mx_image **out);

/* out/<name> as a new string (NULL on allocation failure, message set). */
char *fm_join(const char *dir, const char *name);

/* Write `listname` in out_dir with the written outputs in input order;
 * r->list receives its path. */
int fm_write_list(mx_fm_result *r, const char *out_dir, const char *listname);

/* Run fn(i, ctx, thread) over the n frames through mx_parallel_for with a
 * progress reporter labelled `label` (one step per finished frame). */
int fm_run_frames(int n, mx_parallel_fn fn, void *ctx, const char *label);

/* Record a finished frame's time (since t0) and log it at debug level. */
void fm_frame_done(const char *label, const char *input, mx_fm_frame *f, double t0);

#endif
