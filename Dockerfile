# The jetpool image: one static binary, nothing else. It plays every role
# (service, agent, load generator). Built by `make image` from the binary
# that `make static` produces; no base image is pulled.
FROM scratch
COPY target/x86_64-unknown-linux-gnu/release/jetpool /jetpool
ENTRYPOINT ["/jetpool"]
