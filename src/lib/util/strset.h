/* strset.h — a set of strings (open addressing), for "seen this path already" questions, and
 * the free function of NULL-terminated string arrays (strv). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

typedef struct tb_strset tb_strset;

int tb_strset_new(tb_strset **ret);
/* Adds a copy of S; returns 1 if added, 0 if it was already there, or -ENOMEM. */
int tb_strset_add(tb_strset *set, const char *s);
bool tb_strset_contains(const tb_strset *set, const char *s);
size_t tb_strset_size(const tb_strset *set);
void tb_strset_free(tb_strset *set);
TB_DEFINE_CLEANUP(tb_strset *, tb_strset_free);

/* Frees a NULL-terminated array of malloc'ed strings and the array itself; NULL is fine. */
void tb_strv_free(char **l);
/* Appends a copy of S to the NULL-terminated array *L of *N strings (*L may be NULL). */
int tb_strv_push(char ***l, size_t *n, const char *s);
/* tb_strv_push() of a formatted string. */
_printf_(3, 4) int tb_strv_pushf(char ***l, size_t *n, const char *fmt, ...);
TB_DEFINE_CLEANUP(char **, tb_strv_free);
