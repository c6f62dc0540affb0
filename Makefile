# The two commands: `make demo` and `make test`. Both install missing Debian packages first.
BUILD        ?= build
JOBS         ?= $(shell nproc)
LACQUER_CUDA ?= AUTO
CUDA_ARCH    ?=
CMAKE_FLAGS  := -G Ninja -DCMAKE_BUILD_TYPE=Release -DLACQUER_CUDA=$(LACQUER_CUDA) \
                $(if $(CUDA_ARCH),-DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCH))

.PHONY: all deps build test demo bench clean
all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/lacquer

clean:
	rm -rf $(BUILD)
