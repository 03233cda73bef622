/* mx_list.h - MOPEX list files (000 l.829-860): one image path per line.
 *
 * Rules: CRLF tolerated; surrounding whitespace trimmed; blank lines and
 * lines starting with '#' skipped. A relative path is resolved against the
 * working directory (the guide's rule, 000 l.856-857); if no file exists
 * there but one exists relative to the list file's own directory, that one
 * is used (lists written next to their data keep working from anywhere).
 * With MX_LIST_CHECK_EXISTS every entry must name an existing file; the
 * error names the list, the line number and the path.
 */
#ifndef MX_LIST_H
#define MX_LIST_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_list {
    int n;
    char **paths;     /* resolved paths (absolute when resolution needed the list dir) */
    char **raw;       /* as written in the file */
    int *lineno;      /* 1-based line of each entry */
    char *source;     /* the list file's path */
} mx_list;

enum { MX_LIST_CHECK_EXISTS = 1 };

int mx_list_read(const char *path, int flags, mx_list **out);
/* A list from paths in memory (copied); source may be NULL. */
int mx_list_from_paths(int n, const char *const *paths, const char *source, mx_list **out);
/* Atomic write, one path per line. */
int mx_list_write(const mx_list *l, const char *path);
int mx_list_write_paths(int n, const char *const *paths, const char *path);
void mx_list_free(mx_list *l);
/* MX_ERR_MISMATCH "SigmaList 'b.txt' has 99 entries, ImageList 'a.txt' has 100"
 * when b is non-NULL and lengths differ; names are the roles for messages. */
int mx_list_check_same_length(const mx_list *a, const char *aname, const mx_list *b,
                              const char *bname);

/* Base name of an image path without directory and without a trailing
 * ".fits"/".fit"/".fts" (and ".gz"/".fz"): the <b> of output file names. */
void mx_path_basename_noext(const char *path, char *buf, unsigned long bufsize);
/* Join dir and name (name absolute -> name). Caller frees. */
char *mx_path_join(const char *dir, const char *name);

#ifdef __cplusplus
}
#endif
#endif
