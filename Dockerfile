# The jetpool image: one static binary, nothing else. It plays every role
# (service, agent, load generator). Built by `make image` from the binary
# that `make static` produces; no base image is pulled.
FROM scratch
COPY target/x86_64-unknown-linux-gnu/release/jetpool /jetpool
# Not root: agents need no privilege, and the service needs only the
# Docker socket, which compose grants through the socket's group
# (`group_add: ["${DOCKER_GID}"]`). 65532 is the usual "nonroot" id.
USER 65532:65532
ENTRYPOINT ["/jetpool"]
