# The operator image: `docker build -t mediant-operator:dev .`
# (README: "Installing in a cluster"). One static-enough binary on distroless.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin mediant-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/mediant-operator /usr/local/bin/mediant-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/mediant-operator"]
CMD ["run"]
