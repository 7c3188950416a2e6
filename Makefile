# TokenReel: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
BIN_RELEASE := .build/release/tokenreel
OUT ?= out/samples

.PHONY: all setup setup-python build release run test train clean

all: release

setup:
	@scripts/setup.sh

setup-python:
	@scripts/setup.sh --python

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

## The main job: set up, build, label every video in samples/ with the bundled model.
run: release
	$(BIN_RELEASE) run samples -o $(OUT) --progress never
	@scripts/print-table.sh $(OUT)

## All tests: the Swift package (unit + integration) and the Flax reference's own tests.
test: setup setup-python
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing   # every test is XCTest
	@if [ -d training/tests ]; then .venv/bin/python -m pytest -q training/tests; fi

## Reproduce the Motion10 models from nothing (render, export, train the 64x64 model and its 96x96
## fine-tune, evaluate; about an hour and a half).
train:
	scripts/train-motion10.sh

clean:
	rm -rf .build out
