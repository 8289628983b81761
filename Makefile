# Thin wrapper over CMake + Ninja. Every target installs what it needs first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test demo asan tsan bench fuzz clean format install uninstall deb

all: build

deps:
	@scripts/install-deps.sh build

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

# install-deps first every time: it is quick when nothing is missing, and a checkout that
# gained a dependency (web/'s npm packages, say) gets it before the build needs it.
build:
	@scripts/install-deps.sh build
	@$(MAKE) --no-print-directory $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test:
	@scripts/install-deps.sh test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j 1

demo:
	@scripts/install-deps.sh demo
	@$(MAKE) --no-print-directory build
	scripts/demo.sh $(BUILD)/stormlight

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@scripts/install-deps.sh test
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 1

# Threaded end-to-end tests under ThreadSanitizer.
tsan:
	@scripts/install-deps.sh test
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -j 1 -R e2e

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang-14 in build-fuzz and run
# FUZZ_SECONDS each from their seed corpora (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 20
FUZZ_TARGETS = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
fuzz:
	@scripts/install-deps.sh fuzz
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang-14 -DSL_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# make install PREFIX=/usr/local DESTDIR=: the binary, stormlight(1), bash completion, docs
# and examples; make uninstall (with the same DESTDIR) removes what the last install wrote
# (cmake's install_manifest.txt in the build folder).
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing installed from $(BUILD)"; exit 1; }
	@while read -r f || [ -n "$$f" ]; do rm -fv "$(DESTDIR)$$f"; done < $(BUILD)/install_manifest.txt
	@rm -f $(BUILD)/install_manifest.txt

# dist/stormlight_<version>_<arch>.deb (scripts/make-deb.sh).
deb:
	@scripts/install-deps.sh deb
	@$(MAKE) --no-print-directory build
	scripts/make-deb.sh $(BUILD) dist

bench:
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz

format:
	clang-format -i src/*.c src/*.h src/*/*.c src/*/*.h tests/unit/*.c tests/target/*.c
