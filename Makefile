# Thin wrapper: the real build is Meson + Ninja. See README.md.
BUILD ?= build
SAN_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
MESON_TEST_ARGS ?= --print-errorlogs

.PHONY: all build deps check check-unit check-e2e check-power-loss check-sanitize check-fuzz demo clean lint rootfs

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Every suite: unit, interop, fuzz, e2e.
check: deps
	$(MAKE) build
	meson test -C $(BUILD) --no-suite power-loss $(MESON_TEST_ARGS)
	$(MAKE) check-fuzz

# libFuzzer targets for every parser of untrusted bytes, each for a bounded time (clang build).
check-fuzz:
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true
	ninja -C $(FUZZ_BUILD)
	meson test -C $(FUZZ_BUILD) --suite fuzz $(MESON_TEST_ARGS)

check-unit: build
	meson test -C $(BUILD) --suite unit $(MESON_TEST_ARGS)

# QEMU + OVMF + swtpm scenarios only (a few minutes under TCG).
check-e2e: build
	meson test -C $(BUILD) --suite e2e $(MESON_TEST_ARGS)

# Power cut (QEMU SIGKILL) before each write step of an upgrade, then a boot: about 20 minutes.
check-power-loss: build
	meson test -C $(BUILD) --suite power-loss $(MESON_TEST_ARGS)

# The small test/demo root filesystem (Debian kernel, busybox, trustboot); prints its directory.
rootfs: build
	@bash tests/rootfs/build.sh --trustboot $(BUILD)/src/cli/trustboot $(BUILD)/tests/rootfs-cache

# The unit tests once more under AddressSanitizer + UndefinedBehaviorSanitizer.
check-sanitize:
	[ -f $(SAN_BUILD)/build.ninja ] || meson setup $(SAN_BUILD) -Dsanitize=true
	ninja -C $(SAN_BUILD)
	meson test -C $(SAN_BUILD) --suite unit $(MESON_TEST_ARGS)

demo: deps
	$(MAKE) build
	bash scripts/demo.sh $(BUILD)/src/cli/trustboot

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)

# Static analysis of the sources (not part of check: advisory, run before committing).
lint: build
	clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/*.c')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=memleak --suppress=resourceLeak -I src/lib $$(git ls-files 'src/*.c')
