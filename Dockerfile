# The in-cluster image (SPEC §12): the static musl binary on distroless
# "static" — no shell, no package manager, CA certificates and /etc/passwd
# only — running as UID 65532 ("nonroot"). The manifests from
# `kubectl notify ... --print-manifests` name ghcr.io/<owner>/kubectl-notify:<version>.
#
#   docker build -t kubectl-notify .
#
# Each architecture builds natively (the release workflow runs the
# arm64 build on an arm64 runner): alpine's Rust targets musl, and kube is
# built with rustls, so the binary links nothing at run time.

FROM rust:1.89-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY benches benches
COPY examples examples
COPY src src
COPY testserver testserver
RUN cargo build --release --locked --bin kubectl-notify \
 && install -D -m 0755 target/release/kubectl-notify /out/kubectl-notify

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kubectl-notify /usr/local/bin/kubectl-notify
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kubectl-notify"]
