#include "vm/vmfw.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/macro.h"
#include "util/log.h"

/* Secure Boot code (SMM required) and the empty store of the same flash size, most specific
 * first. The 4 MB builds come before the 2 MB ones: their store has room for big db/dbx. */
static const struct {
        const char *code, *vars;
} layouts[] = {
        /* Debian, Ubuntu */
        { "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd" },
        { "/usr/share/OVMF/OVMF_CODE.secboot.fd", "/usr/share/OVMF/OVMF_VARS.fd" },
        /* Fedora, RHEL */
        { "/usr/share/edk2/ovmf-4m/OVMF_CODE.secboot.fd", "/usr/share/edk2/ovmf-4m/OVMF_VARS.fd" },
        { "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd" },
        /* Arch (edk2-ovmf since 202202), then its older layout */
        { "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd" },
        { "/usr/share/edk2/x64/OVMF_CODE.secboot.fd", "/usr/share/edk2/x64/OVMF_VARS.fd" },
        { "/usr/share/edk2-ovmf/x64/OVMF_CODE.secboot.fd", "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd" },
};

static char *prefixed(const char *root, const char *path) {
        char *s;

        if (asprintf(&s, "%s%s", root ? root : "", path) < 0)
                return NULL;
        return s;
}

int tb_vmfw_find(const char *root, tb_vmfw *ret) {
        for (size_t i = 0; i < ARRAY_SIZE(layouts); i++) {
                _cleanup_(freep) char *code = prefixed(root, layouts[i].code);
                _cleanup_(freep) char *vars = prefixed(root, layouts[i].vars);

                if (!code || !vars)
                        return tb_log_oom();
                if (access(code, R_OK) < 0 || access(vars, R_OK) < 0)
                        continue;
                ret->code = TAKE_PTR(code);
                ret->vars = TAKE_PTR(vars);
                return 0;
        }
        return -ENOENT;
}

int tb_vmfw_vars_for_code(const char *code, char **ret) {
        const char *base = strrchr(code, '/');
        size_t dirlen = base ? (size_t)(base - code) + 1 : 0;

        base = base ? base + 1 : code;
        for (size_t i = 0; i < ARRAY_SIZE(layouts); i++) {
                const char *lbase = strrchr(layouts[i].code, '/') + 1;
                const char *vbase = strrchr(layouts[i].vars, '/') + 1;
                char *s;

                if (strcmp(base, lbase) != 0)
                        continue;
                if (asprintf(&s, "%.*s%s", (int)dirlen, code, vbase) < 0)
                        return tb_log_oom();
                if (access(s, R_OK) < 0) {
                        free(s);
                        continue;
                }
                *ret = s;
                return 0;
        }
        return -ENOENT;
}

void tb_vmfw_done(tb_vmfw *fw) {
        free(fw->code);
        free(fw->vars);
        fw->code = fw->vars = NULL;
}

/* fninit; mov al, 42; hlt — OVMF's first instructions touch the FPU, which is exactly where a
 * PVM-only KVM fails ("emulation failure"). */
static const uint8_t probe_code[] = { 0xdb, 0xe3, 0xb0, 0x2a, 0xf4 };

static int kvm_probe_child(void) {
        struct kvm_userspace_memory_region region = { 0 };
        struct kvm_sregs sregs;
        struct kvm_regs regs = { 0 };
        struct kvm_run *run;
        int kvm, vm, vcpu, run_size;
        uint8_t *mem;

        kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                return 1;
        /* The Secure Boot firmware needs SMM (q35,smm=on): a nested KVM without it makes QEMU
         * exit at once ("System Management Mode not supported by this hypervisor"). */
        if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_X86_SMM) <= 0)
                return 1;
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                return 1;
        mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
                return 1;
        memcpy(mem + 0x1000, probe_code, sizeof(probe_code));
        region.memory_size = 0x10000;
        region.userspace_addr = (uintptr_t)mem;
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
                return 1;
        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (vcpu < 0 || run_size <= 0)
                return 1;
        run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
                return 1;
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
                return 1;
        regs.rip = 0x1000;
        regs.rflags = 0x2;
        if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
                return 1;
        if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_HLT)
                return 1;
        if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0 || (regs.rax & 0xff) != 42)
                return 1;
        return 0;
}

bool tb_vmfw_kvm_usable(void) {
        struct timespec start, now;
        int status;
        pid_t pid;

        if (access("/dev/kvm", R_OK | W_OK) < 0)
                return false;
        pid = fork();
        if (pid < 0)
                return false;
        if (pid == 0)
                _exit(kvm_probe_child());

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
                if (r < 0 && errno != EINTR)
                        return false;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec >= 2) {
                        kill(pid, SIGKILL);
                        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        return false;
                }
                poll(NULL, 0, 10);
        }
}
