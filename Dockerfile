# marketplace-activity: a small, non-root container for the Slack app backend.
# Build:  docker build -t marketplace-activity .
# Run:    docker run -p 3000:3000 -e SLACK_SIGNING_SECRET=... marketplace-activity

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: editing the app's code doesn't rebuild the AWS SDK.
# Cargo.toml names the benches, so their (small) sources come along.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir -p src examples \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin marketplace-activity \
    && rm -rf src

COPY src ./src
COPY examples ./examples
# Touch so cargo sees the real sources as newer than the placeholder build.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin marketplace-activity \
    && cp target/release/marketplace-activity /usr/local/bin/marketplace-activity

FROM debian:bookworm-slim
# CA certificates for TLS to AWS and Slack; nothing else is needed at run time.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/marketplace-activity \
    && chown app:app /var/lib/marketplace-activity

COPY --from=build /usr/local/bin/marketplace-activity /usr/local/bin/marketplace-activity

ENV LISTEN_ADDR=0.0.0.0:3000 \
    LOG_FORMAT=json \
    STATE_DIR=/var/lib/marketplace-activity
VOLUME ["/var/lib/marketplace-activity"]
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/marketplace-activity", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/marketplace-activity"]
CMD ["serve"]
