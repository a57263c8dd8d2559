# The image the Kubernetes manifests run: the four services and the `outcry` command.
#
#   docker build -t registry.example.invalid/outcry:0.1.0 .
#
# Not built by this repository's CI (its machines have no container engine); the build
# stage runs the same `cargo build --release --locked` as a developer, and the runtime
# stage adds what the binaries link beyond glibc (`ldd`): OpenSSL 3 and zlib, for librdkafka.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
      -p outcry-ingestor -p outcry-scorer -p outcry-router -p outcry-notifier -p outcry-cli \
 && mkdir /out \
 && cp target/release/outcry-ingestor target/release/outcry-scorer \
       target/release/outcry-router target/release/outcry-notifier target/release/outcry /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home outcry
COPY --from=build /out/ /usr/local/bin/
USER 10001
# the ingest API and every service's admin port (/metrics, /healthz, /readyz)
EXPOSE 8080 9464
CMD ["outcry", "--help"]
