# Thin wrapper: the real build is Meson + Ninja. See README.md.
BUILD ?= build
SAN_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
DEB_BUILD ?= build-deb
MESON_TEST_ARGS ?= --print-errorlogs

.PHONY: all build deps check check-unit check-e2e check-power-loss check-sanitize check-fuzz fuzz-long check-real-image deb demo clean lint rootfs

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The whole test suite: unit, interop, e2e (busybox guests), fuzz (bounded) and, beside them,
# the real Debian images (scripts/check.sh says why and what is left to run by hand).
check: deps
	$(MAKE) build
	bash scripts/check.sh $(BUILD) check-fuzz $(MESON_TEST_ARGS)

# libFuzzer targets for every parser of untrusted bytes, each for a bounded time (clang build).
check-fuzz:
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true
	ninja -C $(FUZZ_BUILD)
	meson test -C $(FUZZ_BUILD) --suite fuzz $(MESON_TEST_ARGS)

# Depth outside CI: each target to FUZZ_RUNS executions (default 1 M), new coverage merged into
# tests/fuzz/corpus/; prints runs per target. Hours on a small machine: run it by hand.
FUZZ_RUNS ?= 1000000
fuzz-long:
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true
	ninja -C $(FUZZ_BUILD)
	bash scripts/fuzz-long.sh $(FUZZ_BUILD) $(FUZZ_RUNS)

check-unit: build
	meson test -C $(BUILD) --suite unit $(MESON_TEST_ARGS)

# The real Debian images alone (also part of `make check`): the seed's journey on Debian 12
# (real-image-lifecycle, ~20 min under TCG) and systemd 257 on Debian 13 (real-image-257, ~9 min
# with its images cached in $${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}).
check-real-image: build
	meson test -C $(BUILD) --suite real-image $(MESON_TEST_ARGS)

# QEMU + OVMF + swtpm scenarios only (a few minutes under TCG).
check-e2e: build
	meson test -C $(BUILD) --suite e2e $(MESON_TEST_ARGS)

# Power cut (QEMU SIGKILL) before each write step of an upgrade and of an install, then boots
# (docs/notes/security.md has the matrices and their wall times). Its own log base, so that a CI
# run after `make check` counts both: $(BUILD)/meson-logs/power-loss.json.
check-power-loss: build
	meson test -C $(BUILD) --suite power-loss --logbase power-loss $(MESON_TEST_ARGS)

# The small test/demo root filesystem (Debian kernel, busybox, trustboot); prints its directory.
rootfs: build
	@bash tests/rootfs/build.sh --trustboot $(BUILD)/src/cli/trustboot $(BUILD)/tests/rootfs-cache

# The unit tests once more under AddressSanitizer + UndefinedBehaviorSanitizer.
check-sanitize:
	[ -f $(SAN_BUILD)/build.ninja ] || meson setup $(SAN_BUILD) -Dsanitize=true
	ninja -C $(SAN_BUILD)
	meson test -C $(SAN_BUILD) --suite unit $(MESON_TEST_ARGS)

# The Debian package (debian/), lintian clean: $(DEB_BUILD)/trustboot_VERSION_amd64.deb.
# RELEASE=trixie builds it in a chroot of that release (for an image of that release).
deb: deps
	bash scripts/build-deb.sh --lintian $(if $(RELEASE),--release $(RELEASE)) $(DEB_BUILD)

demo: deps
	$(MAKE) build
	bash scripts/demo.sh $(BUILD)/src/cli/trustboot

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) $(DEB_BUILD)

# Static analysis of the sources (not part of check: advisory, run before committing).
lint: build
	clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/*.c')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=memleak --suppress=resourceLeak -I src/lib $$(git ls-files 'src/*.c')
