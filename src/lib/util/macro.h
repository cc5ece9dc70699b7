/* macro.h — cleanup attributes and small helpers used everywhere (systemd src/basic style). */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_ __attribute__((warn_unused_result))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_TO(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* TB_DEFINE_CLEANUP(type *, type_free) defines type_freep(type **) for _cleanup_(). */
#define TB_DEFINE_CLEANUP(type, func)                   \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline void freep(void *p) {
        free(*(void **)p);
}

static inline void closep(const int *fd) {
        if (*fd >= 0)
                close(*fd);
}

/* Hand ownership out of a _cleanup_ variable: returns the value and clears the variable. */
#define TAKE_PTR(p)                                     \
        ({                                              \
                __typeof__(p) _tp_ = (p);               \
                (p) = NULL;                             \
                _tp_;                                   \
        })
/* The same for a struct held by value whose cleanup frees what it points to. */
#define TAKE_STRUCT(s)                                  \
        ({                                              \
                __typeof__(s) _ts_ = (s);               \
                memset(&(s), 0, sizeof(s));             \
                _ts_;                                   \
        })
#define TAKE_FD(fd)                                     \
        ({                                              \
                int _tf_ = (fd);                        \
                (fd) = -1;                              \
                _tf_;                                   \
        })

/* errno as a negative return value, never 0 even if errno was not set. */
static inline int negative_errno(void) {
        int r = -errno;

        /* Testing the result, not errno, is what lets a static analyzer (clang 14) see that it
         * is negative: callers' "set *ret on success" paths then check out. */
        return r < 0 ? r : -EIO;
}
