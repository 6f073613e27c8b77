# The in-cluster image (SPEC §12), for docker users: the static musl binary,
# CA certificates, /etc/passwd and /etc/group, FROM scratch — no shell, no
# package manager — running as UID 65532 ("nonroot"). The manifests from
# `kubectl notify ... --print-manifests` name ghcr.io/<owner>/kubectl-notify:<version>.
#
#   docker build -t kubectl-notify \
#       --build-arg VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)" \
#       --build-arg REVISION="$(git rev-parse HEAD)" .
#
# The release builds the image with scripts/image (buildah, no daemon), and
# this file gives the same layout: the files come from `scripts/image
# --layout`, the one list of what the image holds, and the config below is
# the one scripts/image sets (tests/it/image.rs checks both).
#
# alpine's Rust targets musl, and kube is built with rustls, so the binary
# links nothing at run time.

FROM rust:1.89-alpine AS build
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY benches benches
COPY examples examples
COPY scripts scripts
COPY src src
COPY testserver testserver
RUN cargo build --release --locked --bin kubectl-notify \
 && scripts/image --layout /rootfs --binary target/release/kubectl-notify

FROM scratch
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.source=https://github.com/kubectl-notify/kubectl-notify \
      org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.licenses=Apache-2.0 \
      org.opencontainers.image.revision=$REVISION
COPY --from=build /rootfs/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kubectl-notify"]
