/* gort/export.h - symbol visibility for the public API.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * GORT_API are exported from libgort.so. */
#ifndef GORT_EXPORT_H
#define GORT_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define GORT_API __attribute__((visibility("default")))
#define GORT_NORETURN __attribute__((noreturn))
#else
#define GORT_API
#define GORT_NORETURN
#endif

#endif /* GORT_EXPORT_H */
