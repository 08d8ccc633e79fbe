# cdcform container image: a static musl binary on an empty base, run as a non-root user.
#   docker build -t cdcform .
#   docker run --rm -v "$PWD:/work" ghcr.io/cdcform/cdcform plan --server http://ticdc:8300 changefeeds/

# Alpine's Rust targets musl: the binary links statically and needs no libc at run time.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev git
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
    && install -D -m 755 target/release/cdcform /out/usr/local/bin/cdcform \
    && /out/usr/local/bin/cdcform --version \
    && mkdir -p /out/work

FROM scratch
COPY --from=build /out/ /
# TLS roots for https:// come compiled in (webpki-roots); TiCDC's CA is given with --ca.
ENV PATH=/usr/local/bin
WORKDIR /work
# No user database in scratch: a numeric, unprivileged uid:gid.
USER 65532:65532
ENTRYPOINT ["cdcform"]
