/* list.c - MOPEX list files (one image path per line) and path helpers. */
#include "mopex/mx_list.h"
#include "mopex/mx_error.h"
#include "mopex/mx_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static char *xstrndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *xstrdup(const char *s) { return s ? xstrndup(s, strlen(s)) : NULL; }

/* Something that can be opened as a file (not a directory). */
static int path_is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

void mx_list_free(mx_list *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) {
        free(l->paths[i]);
        free(l->raw[i]);
    }
    free(l->paths);
    free(l->raw);
    free(l->lineno);
    free(l->source);
    free(l);
}

static int list_push(mx_list *l, int *cap, char *path, char *raw, int lineno) {
    if (l->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        char **p = realloc(l->paths, (size_t)nc * sizeof *p);
        if (p) l->paths = p;
        char **r = p ? realloc(l->raw, (size_t)nc * sizeof *r) : NULL;
        if (r) l->raw = r;
        int *ln = r ? realloc(l->lineno, (size_t)nc * sizeof *ln) : NULL;
        if (!ln) return -1;
        l->lineno = ln;
        *cap = nc;
    }
    l->paths[l->n] = path;
    l->raw[l->n] = raw;
    l->lineno[l->n] = lineno;
    l->n++;
    return 0;
}

char *mx_path_join(const char *dir, const char *name) {
    if (!name) name = "";
    if (!dir || !*dir || name[0] == '/') {
        char *d = xstrdup(name);
        if (!d) mx_seterr(MX_ERR_NOMEM, "path '%s'", name);
        return d;
    }
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + nl + 1);
    if (!p) {
        mx_seterr(MX_ERR_NOMEM, "path '%s/%s'", dir, name);
        return NULL;
    }
    memcpy(p, dir, dl);
    if (slash) p[dl] = '/';
    memcpy(p + dl + (size_t)slash, name, nl + 1);
    return p;
}

/* Directory part of a path ("" for a bare name). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return xstrdup("");
    if (slash == path) return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

/* `rel` joined to the list's directory, made absolute so that it still
 * names the same file if the caller changes directory later. */
static char *resolve_in_listdir(const char *listdir, const char *rel) {
    char *p = mx_path_join(listdir, rel);
    if (!p || p[0] == '/') return p;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return p;
    char *a = mx_path_join(cwd, p);
    free(p);
    return a;
}

int mx_list_read(const char *path, int flags, mx_list **out) {
    if (!path || !out) return mx_seterr(MX_ERR_PARAM, "mx_list_read: NULL argument");
    *out = NULL;
    int status = MX_OK, cap = 0;
    char *listdir = NULL, *line = NULL;
    size_t linecap = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mx_seterr(MX_ERR_IO, "cannot open list '%s': %s", path, strerror(errno));
    mx_list *l = calloc(1, sizeof *l);
    if (!l || !(l->source = xstrdup(path)) || !(listdir = dir_of(path))) {
        status = mx_seterr(MX_ERR_NOMEM, "reading list '%s'", path);
        goto exit;
    }
    ssize_t got;
    int lineno = 0;
    while ((got = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        const char *s = line;
        /* CRLF, tabs and blanks around the path are not part of it. */
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        while (n && (*s == ' ' || *s == '\t')) s++, n--;
        if (n == 0 || *s == '#') continue;
        if (memchr(s, '\0', n)) {
            status = mx_seterr(MX_ERR_FORMAT, "list '%s' line %d: binary data, not a list of paths",
                               path, lineno);
            goto exit;
        }
        char *raw = xstrndup(s, n);
        char *res = NULL;
        if (raw) {
            /* The guide's rule first (working directory), then the list's
             * own directory; unresolved paths stay as written. */
            if (raw[0] == '/' || path_is_file(raw) || !*listdir) {
                res = xstrdup(raw);
            } else {
                char *alt = resolve_in_listdir(listdir, raw);
                if (alt && path_is_file(alt)) res = alt;
                else {
                    free(alt);
                    res = xstrdup(raw);
                }
            }
        }
        if (!raw || !res || list_push(l, &cap, res, raw, lineno)) {
            free(raw);
            free(res);
            status = mx_seterr(MX_ERR_NOMEM, "reading list '%s'", path);
            goto exit;
        }
        if ((flags & MX_LIST_CHECK_EXISTS) && !path_is_file(res)) {
            if (raw[0] == '/' || !*listdir)
                status = mx_seterr(MX_ERR_IO, "list '%s' line %d: file '%s' does not exist", path,
                                   lineno, raw);
            else
                status = mx_seterr(MX_ERR_IO,
                                   "list '%s' line %d: file '%s' does not exist (looked in the "
                                   "working directory and in '%s')", path, lineno, raw, listdir);
            goto exit;
        }
    }
    if (ferror(f)) {
        status = mx_seterr(MX_ERR_IO, "reading list '%s': %s", path, strerror(errno));
        goto exit;
    }
    *out = l;
    l = NULL;
exit:
    fclose(f);
    free(line);
    free(listdir);
    mx_list_free(l);
    return status;
}

int mx_list_from_paths(int n, const char *const *paths, const char *source, mx_list **out) {
    if (!out || n < 0 || (n > 0 && !paths))
        return mx_seterr(MX_ERR_PARAM, "mx_list_from_paths: invalid arguments");
    *out = NULL;
    mx_list *l = calloc(1, sizeof *l);
    int cap = 0;
    if (!l || (source && !(l->source = xstrdup(source)))) goto nomem;
    for (int i = 0; i < n; i++) {
        if (!paths[i]) {
            mx_list_free(l);
            return mx_seterr(MX_ERR_PARAM, "mx_list_from_paths: path %d is NULL", i + 1);
        }
        char *p = xstrdup(paths[i]), *r = xstrdup(paths[i]);
        if (!p || !r || list_push(l, &cap, p, r, i + 1)) {
            free(p);
            free(r);
            goto nomem;
        }
    }
    *out = l;
    return MX_OK;
nomem:
    mx_list_free(l);
    return mx_seterr(MX_ERR_NOMEM, "list of %d paths", n);
}

int mx_list_write_paths(int n, const char *const *paths, const char *path) {
    if (!path || n < 0 || (n > 0 && !paths))
        return mx_seterr(MX_ERR_PARAM, "mx_list_write_paths: invalid arguments");
    for (int i = 0; i < n; i++)
        if (!paths[i] || !*paths[i] || strpbrk(paths[i], "\r\n"))
            return mx_seterr(MX_ERR_PARAM, "list '%s': entry %d is empty or holds a line break",
                             path, i + 1);
    int status = MX_OK;
    char *tmp = mx_temp_name_for(path);
    if (!tmp) return mx_seterr(MX_ERR_NOMEM, "writing list '%s'", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        status = mx_seterr(MX_ERR_IO, "cannot write list '%s': %s", path, strerror(errno));
        goto exit;
    }
    for (int i = 0; i < n && status == MX_OK; i++)
        if (fputs(paths[i], f) == EOF || fputc('\n', f) == EOF)
            status = mx_seterr(MX_ERR_IO, "writing list '%s': %s", path, strerror(errno));
    if (fclose(f) != 0 && status == MX_OK)
        status = mx_seterr(MX_ERR_IO, "writing list '%s': %s", path, strerror(errno));
    if (status == MX_OK) status = mx_commit_temp(tmp, path);
exit:
    if (status != MX_OK) unlink(tmp);
    free(tmp);
    return status;
}

int mx_list_write(const mx_list *l, const char *path) {
    if (!l) return mx_seterr(MX_ERR_PARAM, "mx_list_write: NULL list");
    return mx_list_write_paths(l->n, (const char *const *)l->paths, path);
}

int mx_list_check_same_length(const mx_list *a, const char *aname, const mx_list *b,
                              const char *bname) {
    if (!a) return mx_seterr(MX_ERR_PARAM, "mx_list_check_same_length: NULL list");
    if (!b || a->n == b->n) return MX_OK;
    char bdesc[4200], adesc[4200];
    const char *bn = bname ? bname : "list", *an = aname ? aname : "list";
    if (b->source) snprintf(bdesc, sizeof bdesc, "%s '%s'", bn, b->source);
    else snprintf(bdesc, sizeof bdesc, "%s", bn);
    if (a->source) snprintf(adesc, sizeof adesc, "%s '%s'", an, a->source);
    else snprintf(adesc, sizeof adesc, "%s", an);
    return mx_seterr(MX_ERR_MISMATCH, "%s has %d entries, %s has %d", bdesc, b->n, adesc, a->n);
}

void mx_path_basename_noext(const char *path, char *buf, unsigned long bufsize) {
    if (!buf || bufsize == 0) return;
    if (!path) {
        buf[0] = '\0';
        return;
    }
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    size_t n = strlen(b);
    /* Compression suffix first ("a.fits.gz", "a.fits.fz"), then the FITS one. */
    static const char *const comp[] = {".gz", ".fz", NULL};
    static const char *const fits[] = {".fits", ".fit", ".fts", NULL};
    for (int k = 0; comp[k]; k++) {
        size_t e = strlen(comp[k]);
        if (n > e && strcasecmp(b + n - e, comp[k]) == 0) {
            n -= e;
            break;
        }
    }
    for (int k = 0; fits[k]; k++) {
        size_t e = strlen(fits[k]);
        if (n > e && strncasecmp(b + n - e, fits[k], e) == 0) {
            n -= e;
            break;
        }
    }
    if (n >= bufsize) n = bufsize - 1;
    memcpy(buf, b, n);
    buf[n] = '\0';
}
