/* framemods.c - what the per-frame module drivers share (framemods_priv.h):
 * output names, results, sized mask reads, list files, the frame loop, the
 * module driver and the writing of each frame's product. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framemods_priv.h"

double fm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fm_free_names(int n, char **names) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

int fm_names(int n, const char *const *paths, const char *strip, char ***out) {
    *out = NULL;
    char **names = calloc((size_t)(n > 0 ? n : 1), sizeof *names);
    if (!names) return mx_seterr(MX_ERR_NOMEM, "output names of %d frames", n);
    size_t ls = strip ? strlen(strip) : 0;
    for (int i = 0; i < n; i++) {
        char buf[1024];
        mx_path_basename_noext(paths[i], buf, sizeof buf);
        size_t l = strlen(buf);
        if (ls && l > ls && strcmp(buf + l - ls, strip) == 0) buf[l - ls] = '\0';
        if (!(names[i] = strdup(buf))) {
            fm_free_names(n, names);
            return mx_seterr(MX_ERR_NOMEM, "output names of %d frames", n);
        }
    }
    /* Shared base names get their input position as a prefix. Quadratic,
     * but over names only and a few thousand frames at most. */
    char *dup = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!dup) {
        fm_free_names(n, names);
        return mx_seterr(MX_ERR_NOMEM, "output names of %d frames", n);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) == 0) dup[i] = dup[j] = 1;
    int st = MX_OK;
    for (int i = 0; i < n && st == MX_OK; i++) {
        if (!dup[i]) continue;
        size_t l = strlen(names[i]) + 16;
        char *s = malloc(l);
        if (!s) {
            st = mx_seterr(MX_ERR_NOMEM, "output names of %d frames", n);
            break;
        }
        snprintf(s, l, "%d_%s", i + 1, names[i]);
        free(names[i]);
        names[i] = s;
    }
    /* a prefixed name can still meet an unprefixed one ("2_a" from input 2
     * and an input really called 2_a.fits): refuse rather than overwrite */
    for (int i = 0; i < n && st == MX_OK; i++)
        for (int j = i + 1; j < n && st == MX_OK; j++)
            if (strcmp(names[i], names[j]) == 0)
                st = mx_seterr(MX_ERR_PARAM, "inputs %d '%s' and %d '%s' would write the same "
                               "output name '%s'", i + 1, paths[i], j + 1, paths[j], names[i]);
    free(dup);
    if (st != MX_OK) {
        fm_free_names(n, names);
        return st;
    }
    *out = names;
    return MX_OK;
}

void mx_fm_result_free(mx_fm_result *r) {
    if (!r) return;
    if (r->frames)
        for (int i = 0; i < r->n; i++) free(r->frames[i].output);
    free(r->frames);
    free(r->list);
    free(r->table);
    free(r);
}

int fm_result_new(int n, mx_fm_result **out) {
    mx_fm_result *r = calloc(1, sizeof *r);
    if (r) r->frames = calloc((size_t)(n > 0 ? n : 1), sizeof *r->frames);
    if (!r || !r->frames) {
        mx_fm_result_free(r);
        return mx_seterr(MX_ERR_NOMEM, "result of %d frames", n);
    }
    r->n = n;
    *out = r;
    return MX_OK;
}

int fm_check_inputs(const mx_fm_inputs *in, const char *out_dir, const char *module) {
    if (!in || in->n < 1 || !in->images)
        return mx_seterr(MX_ERR_PARAM, "%s: no input images", module);
    for (int i = 0; i < in->n; i++)
        if (!in->images[i]) return mx_seterr(MX_ERR_PARAM, "%s: input %d has no path", module, i + 1);
    if (!out_dir || !*out_dir) return mx_seterr(MX_ERR_PARAM, "%s: no output directory", module);
    return mx_mkdir_p(out_dir);
}

int fm_read_mask_sized(const char *path, const char *role, const char *image, long nx, long ny,
                       mx_image **out) {
    mx_image *m = NULL;
    int st = mx_mask_read(path, &m);
    if (st != MX_OK) return st;
    if (m->nx != nx || m->ny != ny) {
        st = mx_seterr(MX_ERR_MISMATCH, "%s '%s' is %ld x %ld, image '%s' is %ld x %ld", role, path,
                       m->nx, m->ny, image, nx, ny);
        mx_image_free(m);
        return st;
    }
    *out = m;
    return MX_OK;
}

char *fm_join(const char *dir, const char *name) {
    char *p = mx_path_join(dir, name);
    if (!p) mx_seterr(MX_ERR_NOMEM, "path '%s/%s'", dir, name);
    return p;
}

int fm_write_list(mx_fm_result *r, const char *out_dir, const char *listname) {
    const char **paths = calloc((size_t)(r->n > 0 ? r->n : 1), sizeof *paths);
    if (!paths) return mx_seterr(MX_ERR_NOMEM, "list '%s'", listname);
    int k = 0;
    for (int i = 0; i < r->n; i++)
        if (r->frames[i].output) paths[k++] = r->frames[i].output;
    r->nwritten = k;
    int st = MX_OK;
    if (!(r->list = fm_join(out_dir, listname)))
        st = MX_ERR_NOMEM;
    else
        st = mx_list_write_paths(k, paths, r->list);
    free(paths);
    return st;
}

typedef struct {
    mx_parallel_fn fn;
    void *ctx;
    mx_progress *prog;
} run_ctx;

static int run_one(long i, void *vctx, int thread) {
    run_ctx *c = vctx;
    int st = c->fn(i, c->ctx, thread);
    if (st == MX_OK) mx_progress_step(c->prog, 1);
    return st;
}

int fm_run_frames(int n, mx_parallel_fn fn, void *ctx, const char *label) {
    run_ctx c = {fn, ctx, mx_progress_start(label, n, "frames")};
    int st = mx_parallel_for(n, run_one, &c);
    mx_progress_done(c.prog);
    return st;
}

void fm_frame_done(const char *label, const char *input, mx_fm_frame *f, double t0) {
    f->seconds = fm_now() - t0;
    mx_debug("%s: '%s' in %.3f s", label, input, f->seconds);
}

typedef struct {
    const fm_job *job;
    fm_frame_fn fn;
} job_ctx;

static int job_frame(long i, void *vctx, int thread) {
    const job_ctx *c = vctx;
    return c->fn(c->job, i, thread);
}

int fm_run_module(const mx_fm_inputs *in, const char *out_dir, const char *label,
                  const char *strip, fm_frame_fn fn, const void *ctx, const char *listname,
                  mx_fm_result **out) {
    fm_job job = {in, out_dir, label, NULL, NULL, ctx};
    if (out) *out = NULL;
    int st = fm_names(in->n, in->images, strip, &job.names);
    if (st == MX_OK) st = fm_result_new(in->n, &job.res);
    if (st == MX_OK) {
        job_ctx c = {&job, fn};
        st = fm_run_frames(in->n, job_frame, &c, label);
    }
    if (st == MX_OK && listname) st = fm_write_list(job.res, out_dir, listname);
    fm_free_names(in->n, job.names);
    if (st == MX_OK && out)
        *out = job.res;
    else
        mx_fm_result_free(job.res);
    return st;
}

int fm_copy_header(mx_image *dst, const mx_header *src, const char *path) {
    mx_header_free(dst->hdr);
    if (!(dst->hdr = mx_header_dup(src))) return mx_seterr(MX_ERR_NOMEM, "'%s': header", path);
    return MX_OK;
}

char *fm_output_path(const fm_job *job, long i, const char *prefix, const char *suffix) {
    char name[1200];
    snprintf(name, sizeof name, "%s%s%s", prefix, job->names[i], suffix);
    return fm_join(job->out_dir, name);
}

int fm_write_frame(const fm_job *job, long i, const mx_image *img, char **path) {
    int st = mx_image_write(img, *path);
    if (st != MX_OK) return st;
    job->res->frames[i].output = *path;
    *path = NULL;
    return MX_OK;
}

int fm_write_output(const fm_job *job, long i, const mx_image *img, const char *prefix,
                    const char *suffix) {
    char *path = fm_output_path(job, i, prefix, suffix);
    if (!path) return MX_ERR_NOMEM;
    int st = fm_write_frame(job, i, img, &path);
    free(path);
    return st;
}
