# marketplace-activity: a small, non-root container for the Slack app backend.
# Build:  docker build -t marketplace-activity .
# Run:    docker run -p 3000:3000 -e SLACK_SIGNING_SECRET=... marketplace-activity
#
# The final image is `scratch` with one statically linked binary, a CA bundle, passwd/group
# entries for uid 10001 and the state directory: no shell, no package manager, no libraries.
#
# Static, on glibc (`-C target-feature=+crt-static` for the gnu target), rather than copying the
# binary's shared libraries next to it or building for musl:
# - The same toolchain and libc as the dynamic build (the rust image has no musl target), and
#   glibc's allocator and resolver rather than musl's.
# - DNS: glibc 2.36 (bookworm) has the `files` and `dns` NSS modules inside libc itself, so a
#   static binary resolves names through getaddrinfo with /etc/hosts and the /etc/resolv.conf
#   the container engine mounts, without loading anything at run time; with no
#   /etc/nsswitch.conf glibc's default order is dns, then files. Other NSS modules (LDAP,
#   mDNS) would need dlopen and are not available: nothing here needs them. The linker's warning
#   that getaddrinfo "requires at runtime the shared libraries" of glibc refers to those.
# - TLS: rustls with aws-lc-rs, compiled into the binary; the AWS SDK reads the trust roots
#   from /etc/ssl/certs/ca-certificates.crt (the platform's bundle, copied from a clean Debian
#   stage below), and so do reqwest (Slack) and Socket Mode: one trust store, SSL_CERT_FILE.
# See <https://doc.rust-lang.org/reference/linkage.html#static-and-dynamic-c-runtimes>.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Static C runtime for the target only: with an explicit --target, build scripts and proc
# macros stay dynamic (they cannot be static on gnu). Two linker options for size, both for
# LLD, which rustc uses for x86_64 Linux since 1.90 (this crate needs 1.94): identical code
# folding (Rust does not promise distinct function addresses) and RELR, the packed form of the
# position-independent binary's relocations (glibc 2.36 applies them, also in a static PIE).
# On arm64 rustc calls the system's linker (GNU ld, which has no --icf), so the flags are set per
# target: an arm64 build gets the same image without identical code folding. See
# <https://lld.llvm.org/> (`ld.lld --help`),
# <https://doc.rust-lang.org/rustc/codegen-options/index.html#link-arg> and
# <https://doc.rust-lang.org/cargo/reference/config.html#targettriplerustflags>.
ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-Wl,--icf=all -C link-arg=-Wl,-z,pack-relative-relocs" \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs"

# Dependencies first, in their own layer: editing the app's code doesn't rebuild the AWS SDK.
# Cargo.toml names the benches, so their (small) sources come along.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir -p src examples \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && target="$(rustc --print host-tuple)" \
    && cargo build --release --locked --target "$target" --bin marketplace-activity \
    && rm -rf src

COPY src ./src
COPY examples ./examples
# Touch so cargo sees the real sources as newer than the placeholder build.
RUN touch src/main.rs src/lib.rs \
    && target="$(rustc --print host-tuple)" \
    && cargo build --release --locked --target "$target" --bin marketplace-activity \
    && cp "target/$target/release/marketplace-activity" /usr/local/bin/marketplace-activity \
    && strip /usr/local/bin/marketplace-activity \
    && /usr/local/bin/marketplace-activity --help >/dev/null

# The final image's files, assembled in a clean stage (no build tools, no extra CAs).
FROM debian:bookworm-slim AS rootfs
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /rootfs/etc/ssl/certs /rootfs/var/lib/marketplace-activity /rootfs/tmp \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && echo 'app:x:10001:10001:marketplace-activity:/var/lib/marketplace-activity:/sbin/nologin' > /rootfs/etc/passwd \
    && echo 'app:x:10001:' > /rootfs/etc/group \
    && chown 10001:10001 /rootfs/var/lib/marketplace-activity \
    && chmod 1777 /rootfs/tmp
COPY --from=build /usr/local/bin/marketplace-activity /rootfs/usr/local/bin/marketplace-activity

FROM scratch
COPY --from=rootfs /rootfs/ /

ENV LISTEN_ADDR=0.0.0.0:3000 \
    LOG_FORMAT=json \
    STATE_DIR=/var/lib/marketplace-activity \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
VOLUME ["/var/lib/marketplace-activity"]
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/marketplace-activity", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/marketplace-activity"]
CMD ["serve"]
