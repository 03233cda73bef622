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

/* ---- the module driver ---------------------------------------------------
 * What every mx_*_files does around its frames once its inputs and options
 * are checked: output names, a result, the frames through fm_run_frames,
 * the list file. A module supplies one function per frame: */
typedef struct fm_job {
    const mx_fm_inputs *in;
    const char *out_dir;
    const char *label;   /* the module in messages and progress */
    char **names;        /* output base names (fm_names) */
    mx_fm_result *res;   /* frame i fills res->frames[i] */
    const void *ctx;     /* the module's own state (its options, shared masks) */
} fm_job;
typedef int (*fm_frame_fn)(const fm_job *job, long i, int thread);

/* Names of in->images minus `strip` (fm_names), a result of in->n frames,
 * fn over every frame, then the list `listname` in out_dir (NULL: the
 * caller writes it). *out (may be NULL: result dropped) receives the
 * result on success and NULL otherwise. */
int fm_run_module(const mx_fm_inputs *in, const char *out_dir, const char *label,
                  const char *strip, fm_frame_fn fn, const void *ctx, const char *listname,
                  mx_fm_result **out);

/* dst's header replaced by a copy of src (MX_ERR_NOMEM names `path`). */
int fm_copy_header(mx_image *dst, const mx_header *src, const char *path);

/* out_dir/<prefix><names[i]><suffix> as a new string (NULL on allocation
 * failure, message set). */
char *fm_output_path(const fm_job *job, long i, const char *prefix, const char *suffix);

/* Write img to *path and hand the path to frame i's output (*path becomes
 * NULL); on failure *path stays the caller's. */
int fm_write_frame(const fm_job *job, long i, const mx_image *img, char **path);

/* fm_output_path + fm_write_frame: frame i's product written and recorded. */
int fm_write_output(const fm_job *job, long i, const mx_image *img, const char *prefix,
                    const char *suffix);

#endif
