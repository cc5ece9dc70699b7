/* vmfw.h — what the VM runs on: the OVMF Secure Boot firmware files, and whether KVM works. */
#pragma once

#include <stdbool.h>

typedef struct tb_vmfw {
        char *code; /* Secure Boot capable code (needs SMM), mapped read-only */
        char *vars; /* the matching empty variable store: no PK, so setup mode */
} tb_vmfw;

/* Searches ROOT (normally "", a test tree otherwise) for the first pair present in the Debian,
 * Fedora and Arch layouts. -ENOENT (not logged) if there is none. */
int tb_vmfw_find(const char *root, tb_vmfw *ret);

/* The empty store for CODE: a known layout's partner in CODE's directory. -ENOENT if unknown. */
int tb_vmfw_vars_for_code(const char *code, char **ret);

void tb_vmfw_done(tb_vmfw *fw);

/* True when /dev/kvm runs a tiny real-mode guest (FPU init, then HLT) to completion within a
 * second. A present but unusable KVM (e.g. a PVM-only host) fails this, and so never hangs
 * qemu. The probe runs in a child process so that a stuck vCPU cannot stall us. */
bool tb_vmfw_kvm_usable(void);
