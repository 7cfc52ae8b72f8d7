#!/usr/bin/env bash
# Regenerates Sources/GatehouseOTLP/Generated from OpenTelemetry's protobuf definitions.
# Needs: a checkout of github.com/open-telemetry/opentelemetry-proto (PROTO_DIR), protoc
# (PyPI grpcio-tools provides `python3 -m grpc_tools.protoc`) and protoc-gen-swift built from
# apple/swift-protobuf (`swift build -c release --product protoc-gen-swift`, PLUGIN).
# The generated files are committed so that building Gatehouse needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PROTO_DIR:?set PROTO_DIR to an opentelemetry-proto checkout}"
: "${PLUGIN:?set PLUGIN to the protoc-gen-swift binary}"
out=Sources/GatehouseOTLP/Generated
rm -f "$out"/*.pb.swift
python3 -m grpc_tools.protoc --plugin=protoc-gen-swift="$PLUGIN" -I "$PROTO_DIR" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores --swift_out="$out" \
  opentelemetry/proto/common/v1/common.proto opentelemetry/proto/resource/v1/resource.proto \
  opentelemetry/proto/trace/v1/trace.proto opentelemetry/proto/collector/trace/v1/trace_service.proto
