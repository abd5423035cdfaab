# The quant program in a small image: built with the workspace's toolchain and lockfile, run as a
# non-root user from /app, where the shipped configs are and results/ and journal/ are written.
#
#   docker build -t quant .
#   docker run --rm -v "$PWD/results:/app/results" quant backtest backtests/sma_crossover.toml

# Build: Debian bookworm, so the binary links against the same glibc as the runtime image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# No cache mounts, so the legacy builder builds it too; a cold release build takes 5 to 6
# minutes on 2 cores.
RUN cargo build --release --locked --bin quant

# Run: glibc, CA certificates for wss:// and https:// (feeds, venue, backfill, data fetch), the
# binary and the configs; no compiler, no shell tools beyond Debian's base.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin quant
COPY --from=build /src/target/release/quant /usr/local/bin/quant
WORKDIR /app
COPY backtests/ backtests/
# results/ and journal/ belong to the user the program runs as (mount volumes over them to keep
# them); the configs stay read-only to it.
RUN mkdir results journal && chown quant:quant results journal
USER 10001:10001
# Sessions stop cleanly on SIGTERM (the signal `docker stop` and Kubernetes send) and write
# their results; quant is PID 1 here and handles it itself.
ENTRYPOINT ["quant"]
CMD ["--help"]
