# syntax=docker/dockerfile:1
#
# mtasts in a container: `docker build -t mtasts .`, then for the Postfix
# policy daemon
#
#   docker run -d --name mtasts -p 127.0.0.1:8461:8461 \
#     -v mtasts-state:/var/lib/mtasts mtasts
#
# and in Postfix's main.cf
#   smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix
#
# Any other command works the same way: `docker run --rm -v "$PWD:/data:ro"
# mtasts report summarize /data/reports`.
#
# Two stages: the build stage compiles with the locked dependency versions;
# the runtime stage is Debian slim with the CA certificates (policy hosts
# are checked against the system's trust anchors) and the binary, running
# as an unprivileged user.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mta-sts-cli \
 && install -D -m 0755 target/release/mtasts /out/mtasts

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mtasts \
 && useradd --system --uid 10001 --gid mtasts --home-dir /var/lib/mtasts \
      --no-create-home --shell /usr/sbin/nologin mtasts \
 && install -d -o mtasts -g mtasts -m 0750 /var/lib/mtasts
COPY --from=build /out/mtasts /usr/local/bin/mtasts
USER 10001:10001
WORKDIR /var/lib/mtasts
VOLUME ["/var/lib/mtasts"]
EXPOSE 8461
ENTRYPOINT ["/usr/local/bin/mtasts"]
CMD ["daemon", "--listen", "0.0.0.0:8461", "--state", "/var/lib/mtasts"]
