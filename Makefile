# The two commands: `make demo` and `make test`. Both install missing Debian packages first.
BUILD        ?= build
JOBS         ?= $(shell nproc)
LACQUER_CUDA ?= AUTO
CUDA_ARCH    ?=
CMAKE_FLAGS  := -G Ninja -DCMAKE_BUILD_TYPE=Release -DLACQUER_CUDA=$(LACQUER_CUDA) \
                $(if $(CUDA_ARCH),-DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCH))

.PHONY: all deps build test test-asan demo demo-album mutation clean
all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The CPU tests under AddressSanitizer and UndefinedBehaviorSanitizer (CI runs this after `test`).
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
test-asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLACQUER_CUDA=OFF \
	  -DLACQUER_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS="-O1 $(SAN)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SAN)" >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) -LE slow

# Mutation testing (tests/mutants.txt): each mutant alone, the fast tests against it, a table.
mutation: deps
	@bash scripts/mutate.sh

demo: build
	@bash scripts/demo.sh $(BUILD)/lacquer

# The demo set's eight songs as one album (README "Albums").
demo-album: build
	@bash scripts/demo.sh $(BUILD)/lacquer --album

clean:
	rm -rf $(BUILD) build-asan build-mutation
